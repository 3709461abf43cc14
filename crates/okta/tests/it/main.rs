//! Client tests against small Okta-like servers on loopback, each serving
//! one behaviour: paging, rate limits, server errors, token renewal.

mod mock;
mod paging;
mod retries;
