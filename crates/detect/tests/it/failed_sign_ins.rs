use crate::{run_rules, sign_in, store_events, temp_store};

const RULE: &str = "failed-sign-ins-per-user";

#[test]
fn four_failures_raise_nothing() {
    let (_folder, mut store) = temp_store();
    let events: Vec<_> = (0..4)
        .map(|index| {
            sign_in(
                &format!("f{index}"),
                "jdoe@example.com",
                "203.0.113.9",
                index,
                "FAILURE",
            )
        })
        .collect();
    store_events(&mut store, &events);
    assert!(run_rules(&store).iter().all(|alert| alert.rule != RULE));
}

#[test]
fn five_failures_in_window_raise_one_alert() {
    let (_folder, mut store) = temp_store();
    let mut events: Vec<_> = (0..12)
        .map(|index| {
            sign_in(
                &format!("f{index}"),
                "jdoe@example.com",
                "203.0.113.9",
                index / 2,
                "FAILURE",
            )
        })
        .collect();
    events.push(sign_in(
        "other-ip",
        "jdoe@example.com",
        "198.51.100.1",
        3,
        "FAILURE",
    ));
    store_events(&mut store, &events);

    let alerts: Vec<_> = run_rules(&store)
        .into_iter()
        .filter(|alert| alert.rule == RULE)
        .collect();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].user.as_deref(), Some("jdoe@example.com"));
    assert_eq!(alerts[0].ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(alerts[0].count, 13);
    assert_eq!(alerts[0].details["failuresPerIp"]["198.51.100.1"], 1);
}

#[test]
fn spread_out_failures_raise_nothing() {
    let (_folder, mut store) = temp_store();
    // One failure every 15 minutes never puts five inside ten minutes.
    let events: Vec<_> = (0..10)
        .map(|index| {
            sign_in(
                &format!("f{index}"),
                "jdoe@example.com",
                "203.0.113.9",
                index * 15,
                "FAILURE",
            )
        })
        .collect();
    store_events(&mut store, &events);
    assert!(run_rules(&store).iter().all(|alert| alert.rule != RULE));
}

#[test]
fn separate_bursts_raise_separate_alerts() {
    let (_folder, mut store) = temp_store();
    let mut events: Vec<_> = (0..5)
        .map(|index| {
            sign_in(
                &format!("a{index}"),
                "jdoe@example.com",
                "203.0.113.9",
                index,
                "FAILURE",
            )
        })
        .collect();
    events.extend((0..5).map(|index| {
        sign_in(
            &format!("b{index}"),
            "jdoe@example.com",
            "203.0.113.10",
            120 + index,
            "FAILURE",
        )
    }));
    store_events(&mut store, &events);

    let alerts: Vec<_> = run_rules(&store)
        .into_iter()
        .filter(|alert| alert.rule == RULE)
        .collect();
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[0].ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(alerts[1].ip.as_deref(), Some("203.0.113.10"));
}

#[test]
fn successes_and_other_users_not_counted() {
    let (_folder, mut store) = temp_store();
    let mut events: Vec<_> = (0..4)
        .map(|index| {
            sign_in(
                &format!("f{index}"),
                "jdoe@example.com",
                "203.0.113.9",
                index,
                "FAILURE",
            )
        })
        .collect();
    events.push(sign_in(
        "s1",
        "jdoe@example.com",
        "203.0.113.9",
        4,
        "SUCCESS",
    ));
    events.push(sign_in(
        "o1",
        "other@example.com",
        "203.0.113.9",
        4,
        "FAILURE",
    ));
    store_events(&mut store, &events);
    assert!(run_rules(&store).iter().all(|alert| alert.rule != RULE));
}

#[test]
fn rerun_does_not_duplicate_alerts() {
    let (_folder, mut store) = temp_store();
    let events: Vec<_> = (0..6)
        .map(|index| {
            sign_in(
                &format!("f{index}"),
                "jdoe@example.com",
                "203.0.113.9",
                index,
                "FAILURE",
            )
        })
        .collect();
    store_events(&mut store, &events);
    run_rules(&store);
    run_rules(&store);
    assert_eq!(store.alerts(None).unwrap().len(), 1);
}
