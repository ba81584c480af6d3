//! One validated statement and the question evaluation asks of it: does it apply to this
//! request?

use super::EvalRequest;
use super::condition::Condition;
use super::matching::{self, Template, Unit};
use super::principal::Principals;
use super::variable_value;

/// A statement, validated by `parse`.
#[derive(Clone, Debug)]
pub(super) struct Statement {
    /// `Effect: Deny` (otherwise Allow).
    pub(super) deny: bool,
    pub(super) actions: Actions,
    pub(super) resources: Resources,
    /// Bucket policies only; identity policies apply to the user they are attached to.
    pub(super) principals: Option<Principals>,
    /// All must hold.
    pub(super) conditions: Vec<Condition>,
}

/// `Action` or, `negated`, `NotAction`: case-insensitive patterns over `service:Name`.
#[derive(Clone, Debug)]
pub(super) struct Actions {
    pub(super) negated: bool,
    pub(super) patterns: Vec<Vec<Unit>>,
}

/// `Resource` or, `negated`, `NotResource`: case-sensitive ARN patterns that may hold policy
/// variables.
#[derive(Clone, Debug)]
pub(super) struct Resources {
    pub(super) negated: bool,
    pub(super) patterns: Vec<Template>,
}

impl Statement {
    pub(super) fn is_deny(&self) -> bool {
        self.deny
    }

    /// Whether every element of the statement matches `req`.
    pub(super) fn applies(&self, req: &EvalRequest<'_>) -> bool {
        self.principals
            .as_ref()
            .is_none_or(|principals| principals.matches(req.principal))
            && self.action_matches(req.action)
            && self.resource_matches(req)
            && self
                .conditions
                .iter()
                .all(|condition| condition.holds(req, !self.deny))
    }

    fn action_matches(&self, action: &str) -> bool {
        let named = self
            .actions
            .patterns
            .iter()
            .any(|pattern| matching::matches(pattern, action, true));
        named != self.actions.negated
    }

    fn resource_matches(&self, req: &EvalRequest<'_>) -> bool {
        // A pattern whose variable the request cannot fill matches nothing under `Resource`.
        // Under `NotResource` in an Allow it counts as matching, so the Allow does not widen
        // to every resource because a value was missing.
        let unresolved_matches = self.resources.negated && !self.deny;
        let named = self.resources.patterns.iter().any(|template| {
            template
                .resolve(&|key| variable_value(req, key))
                .map_or(unresolved_matches, |units| {
                    matching::matches(&units, req.resource, false)
                })
        });
        named != self.resources.negated
    }
}
