//! `parkctl payments list|refund` (operators): the payments of their lots and
//! refunds. Amounts are shown with the currency's own decimals (JPY none,
//! KWD three).

use clap::Subcommand;
use parking_api::{Payment, PaymentStatusDto, PaymentsQuery, RefundRequest};

use crate::context::{Context, parse_id};
use crate::error::CtlError;
use crate::output;

/// `parkctl payments …`.
#[derive(Debug, Subcommand)]
pub enum PaymentsCommand {
    /// Payments of your lots, newest first.
    List {
        /// Only this lot.
        #[arg(long, value_name = "ID")]
        lot: Option<String>,
        /// Only this status: pending, succeeded, failed, refunded or
        /// partially_refunded.
        #[arg(long, value_parser = payment_status)]
        status: Option<PaymentStatusDto>,
        /// Only payments started at or after this time (RFC 3339 or a friendly
        /// form such as "today 00:00").
        #[arg(long)]
        from: Option<String>,
        /// Only payments started before this time.
        #[arg(long)]
        to: Option<String>,
    },
    /// Refund a payment: all that is left, or --amount minor units of it.
    Refund {
        /// The payment's id.
        id: String,
        /// Minor units (cents; yen for JPY), at most what is left.
        #[arg(long, value_name = "MINOR")]
        amount: Option<i64>,
    },
}

/// clap parser for a payment status.
fn payment_status(text: &str) -> Result<PaymentStatusDto, String> {
    serde_json::from_value(serde_json::Value::String(text.replace('-', "_"))).map_err(|_| {
        format!(
            "unknown value '{text}': pending, succeeded, failed, refunded or partially_refunded"
        )
    })
}

const HEADERS: &[&str] = &[
    "ID",
    "RESERVATION",
    "PURPOSE",
    "STATUS",
    "AMOUNT",
    "REFUNDED",
    "CREATED",
];

fn row(p: &Payment) -> Vec<String> {
    vec![
        p.id.to_string(),
        p.reservation_id.to_string(),
        output::name(&p.purpose),
        output::name(&p.status),
        output::minor(p.amount, &p.currency),
        output::minor(p.refunded_amount, &p.currency),
        output::time(&p.created_at),
    ]
}

/// Runs a payments command.
pub async fn run(ctx: &Context, command: PaymentsCommand) -> Result<(), CtlError> {
    let client = ctx.client()?;
    match command {
        PaymentsCommand::List {
            lot,
            status,
            from,
            to,
        } => {
            let lot = lot.as_deref().map(|l| parse_id("lot", l)).transpose()?;
            let from = ctx
                .optional_time(&client, lot, "from", from.as_deref())
                .await?;
            let to = ctx.optional_time(&client, lot, "to", to.as_deref()).await?;
            let query = PaymentsQuery {
                lot_id: lot,
                status,
                from,
                to,
                page: None,
                per_page: Some(parking_api::MAX_PER_PAGE),
            };
            query
                .validate()
                .map_err(|errors| CtlError::Usage(parkctl::import::field_errors(&errors)))?;
            let page = client
                .list_payments(&query)
                .await
                .map_err(|e| ctx.fail(e))?;
            output::print(
                ctx.format,
                HEADERS,
                page.items.iter().map(row).collect(),
                &page.items,
            )
        }
        PaymentsCommand::Refund { id, amount } => {
            if amount.is_some_and(|a| a < 1) {
                return Err(CtlError::Usage(
                    "--amount must be at least 1 (minor units, e.g. 250 for 2.50 EUR)".into(),
                ));
            }
            let answer = client
                .refund_payment(parse_id("payment", &id)?, &RefundRequest { amount })
                .await
                .map_err(|e| ctx.fail(e))?;
            output::print(ctx.format, HEADERS, vec![row(&answer.payment)], &answer)
        }
    }
}
