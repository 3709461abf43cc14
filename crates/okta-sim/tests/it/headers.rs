//! Headers that every Okta response carries, whatever its status.

use chrono::{DateTime, Utc};
use reqwest::Response;

use crate::support::{access_token, access_token_for, get, http, request_token, small_org, start};

fn assert_common_headers(response: &Response, case: &str) {
    let headers = response.headers();
    for name in [
        "x-rate-limit-limit",
        "x-rate-limit-remaining",
        "x-rate-limit-reset",
    ] {
        let value = headers
            .get(name)
            .unwrap_or_else(|| panic!("{case}: missing {name}"));
        value
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("{case}: {name} is not a number"));
    }
    let request_id = headers
        .get("x-okta-request-id")
        .unwrap_or_else(|| panic!("{case}: missing X-Okta-Request-Id"));
    assert!(!request_id.is_empty());
    let dates: Vec<_> = headers.get_all("date").iter().collect();
    assert_eq!(dates.len(), 1, "{case}: one Date header");
    let date = DateTime::parse_from_rfc2822(dates[0].to_str().unwrap())
        .unwrap_or_else(|_| panic!("{case}: Date is not RFC 7231"));
    let reset: i64 = headers["x-rate-limit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        reset >= date.timestamp(),
        "{case}: reset is absolute and not in the past"
    );
    assert!((Utc::now().timestamp() - date.timestamp()).abs() < 60);
}

#[tokio::test]
async fn every_response_has_rate_limit_and_request_headers() {
    let sim = start(small_org()).await;
    let token = access_token(&sim).await;
    let logs_only = access_token_for(&sim, "okta.logs.read").await;

    let token_error = request_token(&sim, "garbage", "okta.users.read").await;
    assert_eq!(token_error.status(), 401);
    assert_common_headers(&token_error, "token error");

    let cases = [
        (
            "users list",
            get(&sim, &token, "/api/v1/users?limit=2").await,
            200,
        ),
        (
            "user by id",
            get(&sim, &token, "/api/v1/users/00uMissing").await,
            404,
        ),
        (
            "no token",
            http()
                .get(format!("{}/api/v1/apps", sim.base_url))
                .send()
                .await
                .unwrap(),
            401,
        ),
        (
            "no scope",
            get(&sim, &logs_only, "/api/v1/groups").await,
            403,
        ),
        (
            "bad date",
            get(&sim, &logs_only, "/api/v1/logs?since=yesterday").await,
            400,
        ),
        (
            "unknown path",
            get(&sim, &token, "/api/v1/unknown").await,
            404,
        ),
    ];
    for (case, response, status) in &cases {
        assert_eq!(response.status(), *status, "{case}");
        assert_common_headers(response, case);
    }
    let request_ids: std::collections::HashSet<&str> = cases
        .iter()
        .map(|(_, response, _)| response.headers()["x-okta-request-id"].to_str().unwrap())
        .collect();
    assert_eq!(request_ids.len(), cases.len(), "request ids are unique");
    sim.shutdown().await;
}

#[tokio::test]
async fn limit_header_reports_the_app_share_of_the_bucket() {
    let sim = start(small_org()).await;
    let token = access_token(&sim).await;
    let expected = [
        ("/api/v1/logs", 60),
        ("/api/v1/apps", 50),
        ("/api/v1/users", 300),
        ("/api/v1/groups", 250),
    ];
    for (path, limit) in expected {
        let response = get(&sim, &token, path).await;
        assert_eq!(
            response.headers()["x-rate-limit-limit"],
            limit.to_string().as_str(),
            "{path}"
        );
    }
    sim.shutdown().await;
}
