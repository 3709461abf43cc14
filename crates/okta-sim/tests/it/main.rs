//! Integration tests of the Okta simulator, all over plain HTTP to loopback servers.

mod apps;
mod auth;
mod generation;
mod headers;
mod logs;
mod rate_limits;
mod support;
mod token;
mod users;
