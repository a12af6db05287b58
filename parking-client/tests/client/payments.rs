//! Paying and refunding through the client, against a parkd whose seeded lot
//! is prepaid (the fake Stripe of `parkd::fake_stripe`).

use parking_api::{
    PayRequest, PaymentStatusDto, PaymentsQuery, RefundRequest, ReservationStatusDto,
};
use parking_client::ClientError;

use crate::helpers::{DRIVER, OPERATOR, TestApp, booking, client_as};

#[tokio::test]
async fn pay_list_and_refund() {
    let app = TestApp::spawn_prepaid().await;
    let driver = client_as(&app, DRIVER).await;
    let operator = client_as(&app, OPERATOR).await;

    let held = driver
        .create_reservation(&booking(&app, None, 3), None)
        .await
        .expect("booked");
    assert_eq!(held.status, ReservationStatusDto::Held);
    let payment = held.payment.clone().expect("a payment");
    assert_eq!(payment.status, PaymentStatusDto::Pending);
    assert_eq!(payment.amount, held.total_cost.amount);
    assert!(payment.client_secret.is_some(), "the payer gets the secret");

    let paid = operator
        .pay_reservation(
            held.id,
            &PayRequest {
                payment_method: "pm_card_visa".into(),
            },
        )
        .await
        .expect("paid at the desk");
    assert_eq!(paid.status, ReservationStatusDto::Confirmed);

    let page = operator
        .list_payments(&PaymentsQuery {
            lot_id: Some(app.lot.as_uuid()),
            status: Some(PaymentStatusDto::Succeeded),
            ..PaymentsQuery::default()
        })
        .await
        .expect("listed");
    assert_eq!(page.total, 1);
    let refunded = operator
        .refund_payment(page.items[0].id, &RefundRequest { amount: Some(50) })
        .await
        .expect("refunded");
    assert_eq!(refunded.refund.amount, 50);
    assert_eq!(refunded.payment.status, PaymentStatusDto::PartiallyRefunded);

    // A declined card is a problem with parkd's reason.
    let other = driver
        .create_reservation(&booking(&app, None, 6), None)
        .await
        .expect("booked");
    let declined = driver
        .pay_reservation(
            other.id,
            &PayRequest {
                payment_method: "pm_card_chargeDeclined".into(),
            },
        )
        .await
        .expect_err("declined");
    match declined {
        ClientError::Api { status, problem } => {
            assert_eq!(status, 422);
            assert!(problem.detail.contains("declined"), "{}", problem.detail);
        }
        other => panic!("{other:?}"),
    }
    // Drivers may not list payments.
    let denied = driver
        .list_payments(&PaymentsQuery::default())
        .await
        .expect_err("forbidden");
    assert!(
        matches!(denied, ClientError::Api { status: 403, .. }),
        "{denied:?}"
    );
}
