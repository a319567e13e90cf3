//! Request handlers, one module per resource, each an `async fn(Request)` named in
//! `route_table::ROUTES`; `request` is what every handler receives.

pub mod admin;
pub mod dead_letters;
pub mod events;
pub mod export;
pub mod health;
pub mod publish;
pub mod publish_wire;
pub mod request;
pub mod responses;
pub mod search;
pub mod stats;
pub mod stream;
pub mod visible;

pub use request::Request;
