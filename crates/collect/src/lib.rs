//! Collection of Okta data into the store: directory sync, System Log pull
//! and continuous polling, and import of exported log files; and checks of
//! the connection to Okta.

pub mod archive;
pub mod doctor;
mod event;
pub mod follow;
pub mod import;
pub mod logs;
mod progress;
pub mod sync;

pub use event::{parse_published, to_event_record};
pub use progress::{NoProgress, Progress};
