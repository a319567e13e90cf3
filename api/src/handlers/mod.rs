//! Request handlers, one module per resource; filters live in `routes`.

pub mod events;
pub mod health;
pub mod publish;
pub mod stats;
