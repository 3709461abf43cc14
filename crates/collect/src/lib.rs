//! Collection of Okta data into the store: directory sync, System Log pull
//! and continuous polling, import of exported log files, workflows that act
//! on events as they are stored, and checks of the connection to Okta.

pub mod archive;
pub mod doctor;
mod event;
pub mod follow;
pub mod import;
pub mod logs;
mod plain;
mod progress;
pub mod sync;
pub mod workflows;

pub use event::{parse_published, to_event_record};
pub use progress::{NoProgress, Progress};
