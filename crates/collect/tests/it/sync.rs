use std::collections::BTreeSet;

use idaudit_collect::NoProgress;
use idaudit_collect::sync::full_sync;
use idaudit_okta_sim::AssignmentScope;

use crate::{sim, temp_store};

#[tokio::test]
async fn full_sync_matches_simulated_org() {
    let (org, sim, client) = sim::start(400).await;
    let (_folder, mut store) = temp_store();

    let summary = full_sync(&client, &mut store, "sim", &NoProgress)
        .await
        .unwrap();
    sim.shutdown().await;

    // Every user is stored, DEPROVISIONED ones included.
    let stored: BTreeSet<(String, String)> = store
        .users("sim")
        .unwrap()
        .into_iter()
        .map(|user| (user.id, user.status))
        .collect();
    let expected: BTreeSet<(String, String)> = org
        .users
        .iter()
        .map(|user| (user.id.clone(), user.status.as_str().to_string()))
        .collect();
    assert_eq!(stored, expected);
    assert!(stored.iter().any(|(_, status)| status == "DEPROVISIONED"));

    let memberships: BTreeSet<(String, String)> = store
        .memberships("sim")
        .unwrap()
        .into_iter()
        .map(|membership| (membership.group_id, membership.user_id))
        .collect();
    let expected_memberships: BTreeSet<(String, String)> = org
        .memberships
        .iter()
        .flat_map(|(group, users)| users.iter().map(move |user| (group.clone(), user.clone())))
        .collect();
    assert_eq!(memberships, expected_memberships);

    for app in &org.apps {
        let stored: BTreeSet<(String, String)> = store
            .app_users("sim", &app.id)
            .unwrap()
            .into_iter()
            .map(|row| (row.user_id, row.scope))
            .collect();
        let expected: BTreeSet<(String, String)> = org
            .app_users(&app.id)
            .into_iter()
            .map(|(user, scope)| {
                let scope = match scope {
                    AssignmentScope::User => "USER",
                    AssignmentScope::Group(_) => "GROUP",
                };
                (user.id.clone(), scope.to_string())
            })
            .collect();
        assert_eq!(stored, expected, "app `{}`", app.label);
    }

    assert_eq!(summary.users as usize, org.users.len());
    assert_eq!(summary.groups as usize, org.groups.len());
    assert_eq!(summary.apps as usize, org.apps.len());
    assert_eq!(summary.vanished, 0);
}
