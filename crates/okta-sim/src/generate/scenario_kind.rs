//! The kinds of labelled scenario the generator can plant, each switchable in [`OrgSpec`].
//!
//! [`OrgSpec`]: super::OrgSpec

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A kind of labelled scenario; `as_str` is the `kind` written to the ground truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScenarioKind {
    BruteForce,
    PasswordSpray,
    LeaverWithAssignments,
    PrivilegeGrant,
    PasswordSprayDistributed,
    BruteForceThenSuccess,
    CredentialStuffing,
    MfaPushFatigueClassic,
    MfaPushFatigueIdentityEngine,
    ImpossibleTravel,
    AdminConsoleNewCountry,
    PrivilegeGrantByNonAdmin,
    ApiTokenCreated,
    MfaResetNotReenrolled,
    PolicyChangeByPerson,
    ThreatinsightDetection,
    UserReportedSuspiciousActivity,
    SessionFromTwoNetworks,
    JoinerMissingBirthrightGroups,
    MoverKeepsOldAccess,
    LeaverDeactivatedLate,
}

impl ScenarioKind {
    /// Every kind, in the order the ground truth lists them.
    pub const ALL: [ScenarioKind; 21] = [
        ScenarioKind::BruteForce,
        ScenarioKind::PasswordSpray,
        ScenarioKind::LeaverWithAssignments,
        ScenarioKind::PrivilegeGrant,
        ScenarioKind::PasswordSprayDistributed,
        ScenarioKind::BruteForceThenSuccess,
        ScenarioKind::CredentialStuffing,
        ScenarioKind::MfaPushFatigueClassic,
        ScenarioKind::MfaPushFatigueIdentityEngine,
        ScenarioKind::ImpossibleTravel,
        ScenarioKind::AdminConsoleNewCountry,
        ScenarioKind::PrivilegeGrantByNonAdmin,
        ScenarioKind::ApiTokenCreated,
        ScenarioKind::MfaResetNotReenrolled,
        ScenarioKind::PolicyChangeByPerson,
        ScenarioKind::ThreatinsightDetection,
        ScenarioKind::UserReportedSuspiciousActivity,
        ScenarioKind::SessionFromTwoNetworks,
        ScenarioKind::JoinerMissingBirthrightGroups,
        ScenarioKind::MoverKeepsOldAccess,
        ScenarioKind::LeaverDeactivatedLate,
    ];

    /// Returns the set of every kind, the default of [`super::OrgSpec::scenarios`].
    pub fn all() -> BTreeSet<ScenarioKind> {
        ScenarioKind::ALL.into_iter().collect()
    }

    /// Returns the kind as the ground truth spells it, e.g. `password_spray_distributed`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScenarioKind::BruteForce => "brute_force",
            ScenarioKind::PasswordSpray => "password_spray",
            ScenarioKind::LeaverWithAssignments => "leaver_with_assignments",
            ScenarioKind::PrivilegeGrant => "privilege_grant",
            ScenarioKind::PasswordSprayDistributed => "password_spray_distributed",
            ScenarioKind::BruteForceThenSuccess => "brute_force_then_success",
            ScenarioKind::CredentialStuffing => "credential_stuffing",
            ScenarioKind::MfaPushFatigueClassic => "mfa_push_fatigue_classic",
            ScenarioKind::MfaPushFatigueIdentityEngine => "mfa_push_fatigue_identity_engine",
            ScenarioKind::ImpossibleTravel => "impossible_travel",
            ScenarioKind::AdminConsoleNewCountry => "admin_console_new_country",
            ScenarioKind::PrivilegeGrantByNonAdmin => "privilege_grant_by_non_admin",
            ScenarioKind::ApiTokenCreated => "api_token_created",
            ScenarioKind::MfaResetNotReenrolled => "mfa_reset_not_reenrolled",
            ScenarioKind::PolicyChangeByPerson => "policy_change_by_person",
            ScenarioKind::ThreatinsightDetection => "threatinsight_detection",
            ScenarioKind::UserReportedSuspiciousActivity => "user_reported_suspicious_activity",
            ScenarioKind::SessionFromTwoNetworks => "session_from_two_networks",
            ScenarioKind::JoinerMissingBirthrightGroups => "joiner_missing_birthright_groups",
            ScenarioKind::MoverKeepsOldAccess => "mover_keeps_old_access",
            ScenarioKind::LeaverDeactivatedLate => "leaver_deactivated_late",
        }
    }

    /// Returns the scenario id, the kind with dashes and a sequence number, e.g.
    /// `credential-stuffing-1`.
    pub fn scenario_id(self) -> String {
        format!("{}-1", self.as_str().replace('_', "-"))
    }
}

impl fmt::Display for ScenarioKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}
