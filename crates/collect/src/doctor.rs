//! Checks of the connection to an Okta org, for `idaudit doctor`.
//!
//! They test whether the org can be reached and whether the local clock
//! agrees with Okta's `Date`. They then test the token, the scopes each
//! command needs and the app's admin role, and report the rate-limit headroom.

use chrono::{DateTime, Utc};
use idaudit_okta::{Client, Error as OktaError, OrgConfig};
use serde::Serialize;

/// Clock skew above this is reported as a warning.
const SKEW_WARNING_SECONDS: i64 = 30;
/// Clock skew above this makes client assertions and DPoP proofs fail:
/// Okta rejects a JWT whose `iat` lies too far from its own clock.
const SKEW_PROBLEM_SECONDS: i64 = 300;
/// Rate-limit headroom below this share of a bucket is reported.
const HEADROOM_WARNING: f64 = 0.2;

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Ok,
    Warning,
    Problem,
}

/// One check with what it found and, for a problem, the fix.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: String,
    pub status: CheckStatus,
    pub detail: String,
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: &str, detail: String) -> Check {
        Check {
            name: name.to_string(),
            status: CheckStatus::Ok,
            detail,
            fix: None,
        }
    }

    fn finding(name: &str, status: CheckStatus, detail: String, fix: String) -> Check {
        Check {
            name: name.to_string(),
            status,
            detail,
            fix: Some(fix),
        }
    }
}

/// An endpoint probed with `limit=1`, the scope it needs, and the commands
/// that read it.
struct Probe {
    scope: &'static str,
    path: &'static str,
    commands: &'static str,
}

const PROBES: &[Probe] = &[
    Probe {
        scope: "okta.users.read",
        path: "/api/v1/users?limit=1",
        commands: "sync, access, review",
    },
    Probe {
        scope: "okta.groups.read",
        path: "/api/v1/groups?limit=1",
        commands: "sync, access",
    },
    Probe {
        scope: "okta.apps.read",
        path: "/api/v1/apps?limit=1",
        commands: "sync, access, review",
    },
    Probe {
        scope: "okta.roles.read",
        path: "/api/v1/iam/assignees/users?limit=1",
        commands: "sync (admin roles)",
    },
    Probe {
        scope: "okta.logs.read",
        path: "/api/v1/logs?limit=1",
        commands: "logs pull, incremental sync, detect",
    },
];

/// Runs every check against the org of `config`.
pub async fn run_checks(config: &OrgConfig) -> Vec<Check> {
    let mut checks = Vec::new();
    match server_date(config).await {
        Ok(date) => {
            checks.push(Check::ok(
                "connectivity",
                format!("`{}` answered", config.org_url),
            ));
            checks.push(clock_check(date, Utc::now()));
        }
        Err(detail) => {
            checks.push(Check::finding(
                "connectivity",
                CheckStatus::Problem,
                detail,
                "check `org_url`, and any proxy or firewall between this host and Okta".to_string(),
            ));
            return checks;
        }
    }

    let client = match Client::new(config) {
        Ok(client) => client,
        Err(error) => {
            checks.push(error_check("token", &error));
            return checks;
        }
    };
    checks.extend(probe_endpoints(&client).await);
    checks
}

/// Reads Okta's `Date` header from any response of the org, signed in or not.
async fn server_date(config: &OrgConfig) -> Result<Option<DateTime<Utc>>, String> {
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|error| format!("Failed to build an HTTP client: {error}"))?;
    let url = format!(
        "{}/api/v1/users?limit=1",
        config.org_url.as_str().trim_end_matches('/')
    );
    let response = http
        .get(&url)
        .send()
        .await
        .map_err(|error| format!("Failed to reach `{}`: {error}", config.org_url))?;
    Ok(response
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| DateTime::parse_from_rfc2822(text).ok())
        .map(|time| time.with_timezone(&Utc)))
}

fn clock_check(server: Option<DateTime<Utc>>, local: DateTime<Utc>) -> Check {
    let Some(server) = server else {
        return Check::finding(
            "clock",
            CheckStatus::Warning,
            "Okta sent no `Date` header, so the clock skew is unknown".to_string(),
            "make sure this host's clock is synchronised with NTP".to_string(),
        );
    };
    let skew = (local - server).num_seconds();
    let detail = format!("local clock is {skew:+} s from Okta's `Date` (1 s resolution)");
    if skew.abs() > SKEW_PROBLEM_SECONDS {
        return Check::finding(
            "clock",
            CheckStatus::Problem,
            detail,
            "synchronise this host's clock with NTP: Okta rejects client assertions and DPoP proofs from a skewed clock".to_string(),
        );
    }
    if skew.abs() > SKEW_WARNING_SECONDS {
        return Check::finding(
            "clock",
            CheckStatus::Warning,
            detail,
            "synchronise this host's clock with NTP".to_string(),
        );
    }
    Check::ok("clock", detail)
}

/// Calls each probe once; reports the token, each scope, the admin role
/// and the rate-limit headroom.
async fn probe_endpoints(client: &Client) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut headroom: Option<(f64, String)> = None;
    let mut token_checked = false;
    for probe in PROBES {
        let name = format!("scope {}", probe.scope);
        let page = match client.get_page(&client.url(probe.path)).await {
            Ok(page) => page,
            Err(OktaError::MissingScope { scope, .. }) => {
                checks.push(Check::finding(
                    &name,
                    CheckStatus::Problem,
                    format!("missing `{scope}`, needed by {}", probe.commands),
                    format!(
                        "grant `{scope}` to the service app in the Admin Console (Applications > the app > Okta API Scopes), and list it in `scopes` if idaudit.toml sets them"
                    ),
                ));
                continue;
            }
            Err(error) => {
                let check = error_check(if token_checked { &name } else { "token" }, &error);
                let token_failed = matches!(error, OktaError::OAuth { .. });
                checks.push(check);
                if token_failed {
                    return checks;
                }
                continue;
            }
        };
        if !token_checked {
            checks.push(Check::ok(
                "token",
                "Okta accepted the access token".to_string(),
            ));
            token_checked = true;
        }
        checks.push(Check::ok(
            &name,
            format!("granted; used by {}", probe.commands),
        ));
        if probe.scope == "okta.users.read" {
            checks.push(admin_role_check(page.items.is_empty()));
        }
        if let (Some(limit), Some(remaining)) = (page.rate.limit, page.rate.remaining)
            && limit > 0
        {
            let share = remaining as f64 / limit as f64;
            if headroom.as_ref().is_none_or(|(lowest, _)| share < *lowest) {
                let detail = format!(
                    "{remaining} of {limit} left on the bucket of `{}`",
                    probe.path
                );
                headroom = Some((share, detail));
            }
        }
    }
    checks.push(headroom_check(headroom));
    checks
}

fn admin_role_check(no_users: bool) -> Check {
    if no_users {
        return Check::finding(
            "admin role",
            CheckStatus::Problem,
            "the user listing is empty, which Okta returns when the service app has scopes but no admin role".to_string(),
            "assign the service app an admin role, such as Read-only Administrator (Applications > the app > Admin roles)".to_string(),
        );
    }
    Check::ok("admin role", "the service app can list users".to_string())
}

fn headroom_check(lowest: Option<(f64, String)>) -> Check {
    let Some((share, detail)) = lowest else {
        return Check::finding(
            "rate limit",
            CheckStatus::Warning,
            "Okta sent no rate-limit headers".to_string(),
            "none needed unless syncs are slow; idaudit then paces by 429 responses alone"
                .to_string(),
        );
    };
    if share < HEADROOM_WARNING {
        return Check::finding(
            "rate limit",
            CheckStatus::Warning,
            detail,
            "another client is using most of this bucket: lower `rate_limit_share`, or run the sync when it is idle".to_string(),
        );
    }
    Check::ok("rate limit", detail)
}

fn error_check(name: &str, error: &OktaError) -> Check {
    let fix = error
        .hint()
        .unwrap_or_else(|| "run with -vv for the request details".to_string());
    Check::finding(name, CheckStatus::Problem, error.to_string(), fix)
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};

    use super::{CheckStatus, clock_check};

    #[test]
    fn clock_skew_graded() {
        let now = Utc::now();
        assert_eq!(clock_check(Some(now), now).status, CheckStatus::Ok);
        let ahead = clock_check(Some(now - Duration::seconds(90)), now);
        assert_eq!(ahead.status, CheckStatus::Warning);
        assert!(ahead.detail.contains("+90 s"), "{}", ahead.detail);
        let behind = clock_check(Some(now + Duration::seconds(600)), now);
        assert_eq!(behind.status, CheckStatus::Problem);
        assert_eq!(clock_check(None, now).status, CheckStatus::Warning);
    }
}
