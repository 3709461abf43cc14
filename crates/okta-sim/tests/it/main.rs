//! Integration tests of the Okta simulator, all over plain HTTP to loopback servers.

mod access;
mod apps;
mod auth;
mod clients;
mod dpop;
mod faults;
mod generation;
mod headers;
mod hooks;
mod logs;
mod manage;
mod rate_limits;
mod scenarios;
mod support;
mod token;
mod users;
