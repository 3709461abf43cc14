use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

use crate::mock::{client, rate_headers, serve};

#[derive(serde::Deserialize)]
struct PageQuery {
    after: Option<usize>,
}

/// Three pages of two items, with `link` lines as Okta sends them.
async fn items(Query(query): Query<PageQuery>, headers: HeaderMap) -> impl IntoResponse {
    let host = headers.get("host").unwrap().to_str().unwrap().to_string();
    let start = query.after.unwrap_or(0);
    let mut response = rate_headers(600, 500, 60);
    response.append(
        "link",
        format!("<http://{host}/api/v1/items?limit=2>; rel=\"self\"")
            .parse()
            .unwrap(),
    );
    if start + 2 < 6 {
        response.append(
            "link",
            format!(
                "<http://{host}/api/v1/items?after={}&limit=2>; rel=\"next\"",
                start + 2
            )
            .parse()
            .unwrap(),
        );
    }
    let body: Vec<_> = (start..start + 2)
        .map(|index| json!({"id": format!("00u{index}")}))
        .collect();
    (response, axum::Json(body))
}

#[tokio::test]
async fn pages_followed_with_one_token() {
    let (base, tokens) = serve(Router::new().route("/api/v1/items", get(items))).await;
    let client = client(&base);

    let all = client.list_all("/api/v1/items?limit=2").await.unwrap();
    let ids: Vec<_> = all
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, vec!["00u0", "00u1", "00u2", "00u3", "00u4", "00u5"]);
    assert_eq!(client.stats().requests, 3);
    assert_eq!(tokens.lock().unwrap().requests, 1);
}

/// Serves a last page whose `next` link repeats its own URL.
async fn looping(State(calls): State<Arc<AtomicUsize>>, headers: HeaderMap) -> impl IntoResponse {
    calls.fetch_add(1, Ordering::SeqCst);
    let host = headers.get("host").unwrap().to_str().unwrap().to_string();
    let mut response = rate_headers(600, 500, 60);
    response.append(
        "link",
        format!("<http://{host}/api/v1/groups?limit=2>; rel=\"self\", <http://{host}/api/v1/groups?limit=2>; rel=\"next\"")
            .parse()
            .unwrap(),
    );
    (response, axum::Json(json!([{"id": "00g1"}])))
}

#[tokio::test]
async fn repeated_next_ends_listing() {
    let calls = Arc::new(AtomicUsize::new(0));
    let router = Router::new()
        .route("/api/v1/groups", get(looping))
        .with_state(calls.clone());
    let (base, _) = serve(router).await;

    let all = client(&base)
        .list_all("/api/v1/groups?limit=2")
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

async fn foreign_next() -> impl IntoResponse {
    let mut response = rate_headers(600, 500, 60);
    response.append(
        "link",
        "<https://attacker.example/api/v1/users?after=x>; rel=\"next\""
            .parse()
            .unwrap(),
    );
    (response, axum::Json(json!([{"id": "00u1"}])))
}

#[tokio::test]
async fn next_on_other_host_refused() {
    let (base, _) = serve(Router::new().route("/api/v1/users", get(foreign_next))).await;
    let error = client(&base).list_all("/api/v1/users").await.unwrap_err();
    assert!(
        matches!(error, idaudit_okta::Error::ForeignLink { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn concurrent_callers_share_one_token() {
    let (base, tokens) = serve(Router::new().route("/api/v1/items", get(items))).await;
    let client = client(&base);

    let mut tasks = Vec::new();
    for _ in 0..8 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            client.list_all("/api/v1/items?limit=2").await
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().len(), 6);
    }
    assert_eq!(tokens.lock().unwrap().requests, 1);
}
