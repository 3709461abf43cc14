//! Okta management API client.
//!
//! [`Client`] authenticates as an OAuth 2.0 service app (`private_key_jwt`)
//! or with an SSWS API token, follows `link` headers across pages, waits out
//! 429s against the `X-Rate-Limit-*` and `Date` headers, and retries 5xx and
//! dropped connections. Models in [`models`] keep unknown enum values as text.

mod auth;
mod budget;
mod client;
mod config;
mod dpop;
mod error;
mod keys;
pub mod link;
pub mod models;
pub mod rate;
mod secret;

pub use auth::DpopMode;
pub use client::{Client, Deleted, Page, RawPage, RequestStats};
pub use config::{
    ClientOptions, Credentials, DEFAULT_SCOPES, OrgConfig, is_loopback, org_key, parse_org_url,
};
pub use error::{ApiError, Error, Result};
pub use secret::Secret;
