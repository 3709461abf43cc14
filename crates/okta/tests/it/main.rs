//! Client tests against small Okta-like servers on loopback, each serving
//! one behaviour: paging, rate limits, server errors, token renewal.

mod auth;
mod faults;
mod mock;
mod models;
mod paging;
mod retries;
mod sim;
