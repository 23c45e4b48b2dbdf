//! The latchkey HTTP server: configuration, routes and the services behind them.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cache;
pub mod config;
pub mod context;
pub mod error;
pub mod extract;
pub mod keys;
pub mod metrics;
pub mod pages;
mod routes;
pub mod serve;
pub mod service;
pub mod state;

pub use config::{Config, ConfigError};
pub use context::{Context, StartError};
pub use routes::paths;
pub use serve::{Server, shutdown_signal};
