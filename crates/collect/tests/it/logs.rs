use chrono::{Duration, Utc};
use idaudit_collect::NoProgress;
use idaudit_collect::logs::{PullError, check_range, pull};

use crate::{sim, temp_store};

#[tokio::test]
async fn pull_stores_every_event_once() {
    let (org, sim, client) = sim::start(200).await;
    let (_folder, mut store) = temp_store();
    let until = Utc::now();
    let since = until - Duration::days(8);

    let first = pull(&client, &mut store, "sim", since, until, &NoProgress)
        .await
        .unwrap();
    let second = pull(&client, &mut store, "sim", since, until, &NoProgress)
        .await
        .unwrap();
    sim.shutdown().await;

    assert_eq!(first.events as usize, org.events.len());
    assert_eq!(first.inserted as usize, org.events.len());
    assert_eq!(first.unreadable, 0);
    assert_eq!(second.inserted, 0);
    assert_eq!(second.duplicates as usize, org.events.len());
    assert_eq!(store.count_events().unwrap() as usize, org.events.len());
}

#[test]
fn range_past_retention_rejected() {
    let now = Utc::now();
    let error = check_range(now - Duration::days(91), now, now).unwrap_err();
    assert!(
        matches!(error, PullError::BeyondRetention { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("earliest accepted time"),
        "{error}"
    );
    assert!(check_range(now - Duration::days(89), now, now).is_ok());
    let a_moment_later = now + Duration::milliseconds(5);
    assert!(check_range(now - Duration::days(90), now, a_moment_later).is_ok());
    assert!(check_range(now, now - Duration::days(1), now).is_err());
}
