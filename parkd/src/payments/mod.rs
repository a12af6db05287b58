//! The Stripe adapter: [`gateway`] wraps async-stripe's client for the calls
//! parkd makes (PaymentIntents create / confirm / retrieve / cancel, Refunds
//! create) and maps Stripe's answers and errors to parkd's terms; [`webhook`]
//! verifies `Stripe-Signature` and turns an event into a [`webhook::Notice`].
//!
//! Amounts cross this boundary in integer minor units of the currency's
//! ISO-4217 exponent (see [`gateway::stripe_amount`]); never as floats.

pub mod gateway;
pub mod webhook;
