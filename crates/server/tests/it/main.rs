//! Tests of the idaudit server over real sockets with a real SQLite store.

mod hooks;
