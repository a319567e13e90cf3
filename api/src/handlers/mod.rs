//! Request handlers, one module per resource; filters live in `routes`.

pub mod admin;
pub mod dead_letters;
pub mod events;
pub mod export;
pub mod health;
pub mod publish;
pub mod publish_wire;
pub mod responses;
pub mod search;
pub mod stats;
pub mod stream;
