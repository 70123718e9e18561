//! Who a client is. One type serves authentication (tokens, client certificates), RBAC and
//! audit-like reporting (`SelfSubjectReview`, the `Forbidden` messages).

/// The superuser group: requests from its members are never denied (the real server's
/// `user.SystemPrivilegedGroup`).
pub(crate) const SYSTEM_MASTERS: &str = "system:masters";

/// Who a client is: a user name and groups, as the real server's `UserInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    /// User name (`kubernetes-admin`, `system:serviceaccount:ns:name`...).
    pub username: String,
    /// Groups, including `system:authenticated` for authenticated callers.
    pub groups: Vec<String>,
}

impl Identity {
    /// The cluster admin (`kubernetes-admin`, group `system:masters`): always authorized.
    #[must_use]
    pub fn admin() -> Self {
        Self {
            username: "kubernetes-admin".to_owned(),
            groups: vec![SYSTEM_MASTERS.to_owned(), "system:authenticated".to_owned()],
        }
    }

    /// A user with the given groups (`system:authenticated` is added).
    #[must_use]
    pub fn user(name: impl Into<String>, groups: &[&str]) -> Self {
        let mut groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
        if !groups.iter().any(|g| g == "system:authenticated") {
            groups.push("system:authenticated".to_owned());
        }
        Self {
            username: name.into(),
            groups,
        }
    }

    /// The service account `namespace/name` (`system:serviceaccount:<ns>:<name>`, groups
    /// `system:serviceaccounts`, `system:serviceaccounts:<ns>`, `system:authenticated`).
    #[must_use]
    pub fn service_account(namespace: &str, name: &str) -> Self {
        Self {
            username: format!("system:serviceaccount:{namespace}:{name}"),
            groups: vec![
                "system:serviceaccounts".to_owned(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".to_owned(),
            ],
        }
    }

    /// An unauthenticated caller.
    pub(crate) fn anonymous() -> Self {
        Self {
            username: "system:anonymous".to_owned(),
            groups: vec!["system:unauthenticated".to_owned()],
        }
    }

    pub(crate) fn is_service_account(&self) -> bool {
        self.username.starts_with("system:serviceaccount:")
    }

    /// Whether this caller is a member of the superuser group `system:masters`.
    pub(crate) fn is_superuser(&self) -> bool {
        self.groups.iter().any(|g| g == SYSTEM_MASTERS)
    }
}
