//! The IAM and STS actions: each checks the caller's right with
//! [`Auth::authorize_admin`], then asks the user directory.
//!
//! Names a client sends (users, policies) may come back in its own answers, as IAM's do, but
//! are never logged above debug.

use coffer_auth::{AccessKeyInfo, Auth, Decision, Identity, KeyStatus, RequestFacts, UserInfo};
use coffer_storage::Store;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::error::IamError;
use super::query::Params;
use super::xml::Fields;
use crate::limits::{IAM_DEFAULT_ITEMS, IAM_MAX_ITEMS};

/// What an action runs with: the directory, the store (for bucket owners), and who asks.
pub(crate) struct Call<'a> {
    pub(crate) auth: &'a Auth,
    pub(crate) store: &'a Store,
    pub(crate) caller: &'a Identity,
    pub(crate) facts: &'a RequestFacts,
    pub(crate) params: &'a Params,
}

/// An action's result: `None` for actions that return nothing but the request id.
pub(crate) type Outcome = Result<Option<Fields>, IamError>;

/// RFC 3986 encoding, as IAM returns policy documents.
const POLICY_ENCODING: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Why root's own key cannot be managed through IAM.
const ROOT_KEY: &str = "The root user's access key is not managed through IAM on Coffer: \
     replace it by starting the server with COFFER_ROOT_ACCESS_KEY and \
     COFFER_ROOT_SECRET_KEY set.";

/// The IAM actions served: each has its arm in [`iam`] below.
pub(crate) const IAM_ACTIONS: &[&str] = &[
    "CreateUser",
    "GetUser",
    "ListUsers",
    "DeleteUser",
    "CreateAccessKey",
    "ListAccessKeys",
    "UpdateAccessKey",
    "DeleteAccessKey",
    "PutUserPolicy",
    "GetUserPolicy",
    "ListUserPolicies",
    "DeleteUserPolicy",
    "ListGroupsForUser",
    "ListAttachedUserPolicies",
    "ListUserTags",
    "ListMFADevices",
    "ListSSHPublicKeys",
    "ListSigningCertificates",
    "ListServiceSpecificCredentials",
    "GetLoginProfile",
];

/// Runs IAM action `action`, or `None` if there is no such action.
pub(crate) async fn iam(call: &Call<'_>, action: &str) -> Option<Outcome> {
    Some(match action {
        "CreateUser" => create_user(call).await,
        "GetUser" => get_user(call),
        "ListUsers" => list_users(call),
        "DeleteUser" => delete_user(call).await,
        "CreateAccessKey" => create_access_key(call).await,
        "ListAccessKeys" => list_access_keys(call),
        "UpdateAccessKey" => update_access_key(call).await,
        "DeleteAccessKey" => delete_access_key(call).await,
        "PutUserPolicy" => put_user_policy(call).await,
        "GetUserPolicy" => get_user_policy(call),
        "ListUserPolicies" => list_user_policies(call),
        "DeleteUserPolicy" => delete_user_policy(call).await,
        // What Coffer has none of, asked for by tools that read a user whole (Terraform's
        // aws_iam_user): real, empty answers.
        "ListGroupsForUser" => nothing_of(call, "iam:ListGroupsForUser", "Groups"),
        "ListAttachedUserPolicies" => {
            nothing_of(call, "iam:ListAttachedUserPolicies", "AttachedPolicies")
        }
        "ListUserTags" => nothing_of(call, "iam:ListUserTags", "Tags"),
        "ListMFADevices" => nothing_of(call, "iam:ListMFADevices", "MFADevices"),
        "ListSSHPublicKeys" => nothing_of(call, "iam:ListSSHPublicKeys", "SSHPublicKeys"),
        "ListSigningCertificates" => {
            nothing_of(call, "iam:ListSigningCertificates", "Certificates")
        }
        "ListServiceSpecificCredentials" => nothing_of(
            call,
            "iam:ListServiceSpecificCredentials",
            "ServiceSpecificCredentials",
        ),
        "GetLoginProfile" => no_login_profile(call),
        _ => return None,
    })
}

/// STS GetCallerIdentity: any verified key may ask who it is.
pub(crate) fn get_caller_identity(caller: &Identity) -> Fields {
    let user_id = if caller.is_root {
        caller.account.as_str()
    } else {
        caller.principal.as_str()
    };
    let mut f = Fields::default();
    f.text("Arn", &caller.arn)
        .text("UserId", user_id)
        .text("Account", &caller.account);
    f
}

impl Call<'_> {
    /// Refuses unless the caller may do `action` (`iam:CreateUser`) on `resource`.
    pub(super) fn allow(&self, action: &str, resource: &str) -> Result<(), IamError> {
        match self
            .auth
            .authorize_admin(self.caller, action, resource, self.facts)
        {
            Decision::Allow => Ok(()),
            Decision::Deny(reason) => Err(IamError::denied(format!(
                "User: {} is not authorized to perform: {action} on resource: {resource} ({})",
                self.caller.arn,
                reason.message()
            ))),
        }
    }

    fn user_arn(&self, name: &str) -> String {
        format!("arn:aws:iam::{}:user/{name}", self.caller.account)
    }

    /// `UserName`, required.
    fn user_name(&self) -> Result<&str, IamError> {
        self.params.required("UserName", "userName")
    }

    /// `UserName`, or the caller's own name when it is absent (`None`: the caller is root).
    fn user_or_caller(&self) -> Option<&str> {
        match self.params.get("UserName") {
            Some(name) => Some(name),
            None if self.caller.is_root => None,
            None => Some(self.caller.name.as_str()),
        }
    }

    /// Checks `action` on the named user, and returns the name.
    fn allow_on_user<'n>(&self, action: &str, name: &'n str) -> Result<&'n str, IamError> {
        self.allow(action, &self.user_arn(name))?;
        Ok(name)
    }

    /// For key actions: the named user or the caller, checked; root's own key is refused.
    fn key_owner(&self, action: &str) -> Result<&str, IamError> {
        if let Some(name) = self.user_or_caller() {
            return self.allow_on_user(action, name);
        }
        self.allow(action, &self.caller.arn)?;
        Err(IamError::validation(ROOT_KEY))
    }
}

/// An empty `list` for an existing user: Coffer has no groups, managed policies, tags,
/// MFA devices, SSH keys or certificates.
fn nothing_of(call: &Call<'_>, action: &str, list: &str) -> Outcome {
    let name = call
        .user_or_caller()
        .ok_or_else(|| IamError::validation("The root user has none of these on Coffer."))?;
    call.allow_on_user(action, name)?;
    call.auth.user(name)?;
    let mut f = Fields::default();
    f.members::<()>(list, &[], |_, ()| {})
        .flag("IsTruncated", false);
    Ok(Some(f))
}

/// Users have no console password on Coffer: IAM's answer for a user without one.
fn no_login_profile(call: &Call<'_>) -> Outcome {
    let name = call.user_name()?;
    call.allow_on_user("iam:GetLoginProfile", name)?;
    call.auth.user(name)?;
    Err(IamError::new(
        http::StatusCode::NOT_FOUND,
        "NoSuchEntity",
        format!("Login Profile for User {name} cannot be found."),
    ))
}

async fn create_user(call: &Call<'_>) -> Outcome {
    let name = call.user_name()?;
    if call.params.get("Path").is_some_and(|p| p != "/") {
        return Err(IamError::validation(
            "Coffer supports only the path \"/\" for users.",
        ));
    }
    call.allow_on_user("iam:CreateUser", name)?;
    let user = call.auth.create_user(name).await?;
    let mut f = Fields::default();
    f.nest("User", |u| user_fields(u, &user));
    Ok(Some(f))
}

fn get_user(call: &Call<'_>) -> Outcome {
    let mut f = Fields::default();
    if let Some(name) = call.user_or_caller() {
        call.allow_on_user("iam:GetUser", name)?;
        let user = call.auth.user(name)?;
        f.nest("User", |u| user_fields(u, &user));
    } else {
        // Root: IAM answers with the account id and root's ARN.
        call.allow("iam:GetUser", &call.caller.arn)?;
        f.nest("User", |u| {
            u.text("UserId", &call.caller.account)
                .text("Arn", &call.caller.arn);
        });
    }
    Ok(Some(f))
}

fn list_users(call: &Call<'_>) -> Outcome {
    // ListUsers names no user: IAM authorizes it on "*".
    call.allow("iam:ListUsers", "*")?;
    let max = max_items(call.params)?;
    let all = call.auth.users();
    let matches_prefix = call
        .params
        .get("PathPrefix")
        .is_none_or(|prefix| "/".starts_with(prefix));
    let start = call
        .params
        .get("Marker")
        .map_or(0, |m| all.partition_point(|u| u.name.as_str() < m));
    let rest: &[UserInfo] = if matches_prefix { &all[start..] } else { &[] };
    let (page, next) = paged(rest, max);
    let mut f = Fields::default();
    f.members("Users", page, user_fields)
        .flag("IsTruncated", next.is_some());
    if let Some(next) = next {
        f.text("Marker", &next.name);
    }
    Ok(Some(f))
}

async fn delete_user(call: &Call<'_>) -> Outcome {
    let name = call.allow_on_user("iam:DeleteUser", call.user_name()?)?;
    let user = call.auth.user(name)?;
    let buckets = call.store.list_buckets().await.map_err(|error| {
        tracing::error!(%error, "could not list buckets to delete a user");
        IamError::internal()
    })?;
    let owns_buckets = buckets.iter().any(|b| b.owner == user.id);
    call.auth.delete_user(name, owns_buckets).await?;
    Ok(None)
}

async fn create_access_key(call: &Call<'_>) -> Outcome {
    let name = call.key_owner("iam:CreateAccessKey")?;
    let key = call.auth.create_access_key(name).await?;
    let mut f = Fields::default();
    f.nest("AccessKey", |k| {
        k.text("UserName", &key.info.user)
            .text("AccessKeyId", &key.info.access_key)
            .text("Status", key.info.status.as_str())
            .text("SecretAccessKey", key.secret.expose())
            .date("CreateDate", key.info.created);
    });
    Ok(Some(f))
}

fn list_access_keys(call: &Call<'_>) -> Outcome {
    let name = call.key_owner("iam:ListAccessKeys")?;
    let keys = call.auth.access_keys(name)?;
    let mut f = Fields::default();
    f.members("AccessKeyMetadata", &keys, key_fields)
        .flag("IsTruncated", false);
    Ok(Some(f))
}

async fn update_access_key(call: &Call<'_>) -> Outcome {
    let key = call.params.required("AccessKeyId", "accessKeyId")?;
    let status = match call.params.required("Status", "status")? {
        "Active" => KeyStatus::Active,
        "Inactive" => KeyStatus::Inactive,
        _ => {
            return Err(IamError::validation(
                "1 validation error detected: Value at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]",
            ));
        }
    };
    let name = call.key_owner("iam:UpdateAccessKey")?;
    call.auth.set_access_key_status(name, key, status).await?;
    Ok(None)
}

async fn delete_access_key(call: &Call<'_>) -> Outcome {
    let key = call.params.required("AccessKeyId", "accessKeyId")?;
    let name = call.key_owner("iam:DeleteAccessKey")?;
    call.auth.delete_access_key(name, key).await?;
    Ok(None)
}

async fn put_user_policy(call: &Call<'_>) -> Outcome {
    let name = call.user_name()?;
    let policy = call.params.required("PolicyName", "policyName")?;
    let document = call.params.required("PolicyDocument", "policyDocument")?;
    call.allow_on_user("iam:PutUserPolicy", name)?;
    // coffer-auth parses it: MalformedPolicyDocument with the reason, or LimitExceeded.
    call.auth.put_user_policy(name, policy, document).await?;
    Ok(None)
}

fn get_user_policy(call: &Call<'_>) -> Outcome {
    let name = call.user_name()?;
    let policy = call.params.required("PolicyName", "policyName")?;
    call.allow_on_user("iam:GetUserPolicy", name)?;
    let user = call.auth.user(name)?;
    let text = call.auth.user_policy(name, policy)?;
    let mut f = Fields::default();
    f.text("UserName", &user.name)
        .text("PolicyName", policy)
        .text(
            "PolicyDocument",
            &utf8_percent_encode(&text, POLICY_ENCODING).to_string(),
        );
    Ok(Some(f))
}

fn list_user_policies(call: &Call<'_>) -> Outcome {
    let name = call.user_name()?;
    call.allow_on_user("iam:ListUserPolicies", name)?;
    let names = call.auth.user_policies(name)?;
    let mut f = Fields::default();
    f.members("PolicyNames", &names, |m, n| {
        m.value(n);
    })
    .flag("IsTruncated", false);
    Ok(Some(f))
}

async fn delete_user_policy(call: &Call<'_>) -> Outcome {
    let name = call.user_name()?;
    let policy = call.params.required("PolicyName", "policyName")?;
    call.allow_on_user("iam:DeleteUserPolicy", name)?;
    call.auth.delete_user_policy(name, policy).await?;
    Ok(None)
}

fn user_fields(f: &mut Fields, user: &UserInfo) {
    f.text("Path", "/")
        .text("UserName", &user.name)
        .text("UserId", &user.id)
        .text("Arn", &user.arn)
        .date("CreateDate", user.created);
}

fn key_fields(f: &mut Fields, key: &AccessKeyInfo) {
    f.text("UserName", &key.user)
        .text("AccessKeyId", &key.access_key)
        .text("Status", key.status.as_str())
        .date("CreateDate", key.created);
}

/// `MaxItems`: 1 to [`IAM_MAX_ITEMS`], [`IAM_DEFAULT_ITEMS`] when absent.
fn max_items(params: &Params) -> Result<usize, IamError> {
    match params.get("MaxItems") {
        None => Ok(IAM_DEFAULT_ITEMS),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=IAM_MAX_ITEMS).contains(n))
            .ok_or_else(|| {
                IamError::validation(format!(
                    "1 validation error detected: Value at 'maxItems' failed to satisfy constraint: Member must have value between 1 and {IAM_MAX_ITEMS}"
                ))
            }),
    }
}

/// The first `max` items, and the first one left out, if any.
fn paged<T>(items: &[T], max: usize) -> (&[T], Option<&T>) {
    if items.len() > max {
        (&items[..max], Some(&items[max]))
    } else {
        (items, None)
    }
}
