//! Tests for the policy language.
