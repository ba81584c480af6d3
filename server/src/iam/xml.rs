//! IAM's and STS's XML, shaped as AWS shapes it: `<XxxResponse><XxxResult>…</XxxResult>
//! <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata></XxxResponse>`, and
//! `<ErrorResponse>` for errors. Every value is escaped.

use std::fmt::Write as _;
use std::time::SystemTime;

use super::error::IamError;

/// IAM's namespace.
pub(crate) const IAM_NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// STS's namespace.
pub(crate) const STS_NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// The inside of a `<XxxResult>` element, built element by element.
#[derive(Default)]
pub(crate) struct Fields(String);

impl Fields {
    /// Appends `<name>value</name>`, `value` escaped.
    pub(crate) fn text(&mut self, name: &str, value: &str) -> &mut Fields {
        let _ = write!(self.0, "<{name}>{}</{name}>", escape(value));
        self
    }

    /// Appends `value`, escaped, as text (the inside of a `<member>` of strings).
    pub(crate) fn value(&mut self, value: &str) -> &mut Fields {
        self.0.push_str(&escape(value));
        self
    }

    /// Appends `<name>` around what `inner` writes.
    pub(crate) fn nest(&mut self, name: &str, inner: impl FnOnce(&mut Fields)) -> &mut Fields {
        let _ = write!(self.0, "<{name}>");
        inner(self);
        let _ = write!(self.0, "</{name}>");
        self
    }

    /// Appends `<name>` holding one `<member>` per item, each written by `inner`.
    pub(crate) fn members<T>(
        &mut self,
        name: &str,
        items: &[T],
        mut inner: impl FnMut(&mut Fields, &T),
    ) -> &mut Fields {
        self.nest(name, |f| {
            for item in items {
                f.nest("member", |m| inner(m, item));
            }
        })
    }

    /// Appends a date element.
    pub(crate) fn date(&mut self, name: &str, at: SystemTime) -> &mut Fields {
        self.text(name, &iso8601(at))
    }

    /// Appends a boolean element.
    pub(crate) fn flag(&mut self, name: &str, value: bool) -> &mut Fields {
        self.text(name, if value { "true" } else { "false" })
    }
}

/// The answer to `action`: its result (`None` for actions that return nothing) and the
/// request id.
pub(crate) fn response(
    ns: &str,
    action: &str,
    result: Option<&Fields>,
    request_id: &str,
) -> String {
    let mut out =
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{action}Response xmlns=\"{ns}\">");
    if let Some(fields) = result {
        let _ = write!(out, "<{action}Result>{}</{action}Result>", fields.0);
    }
    let _ = write!(
        out,
        "<ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>",
        escape(request_id)
    );
    out
}

/// An `<ErrorResponse>`.
pub(crate) fn error(ns: &str, err: &IamError, request_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse xmlns=\"{ns}\"><Error><Type>{}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        err.fault(),
        err.code,
        escape(&err.message),
        escape(request_id)
    )
}

/// `value` with `& < > " '` escaped, and control characters XML 1.0 cannot carry dropped.
pub(crate) fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => {
                let _ = write!(out, "&#{};", u32::from(c));
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// `2026-11-30T08:00:00Z`, as IAM writes dates.
pub(crate) fn iso8601(at: SystemTime) -> String {
    let t = time::OffsetDateTime::from(at);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn responses_and_errors_have_aws_shapes() {
        let mut f = Fields::default();
        f.nest("User", |u| {
            u.text("UserName", "a<b&c").date("CreateDate", UNIX_EPOCH);
        });
        assert_eq!(
            response(IAM_NS, "GetUser", Some(&f), "rid"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<GetUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><GetUserResult><User><UserName>a&lt;b&amp;c</UserName><CreateDate>1970-01-01T00:00:00Z</CreateDate></User></GetUserResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></GetUserResponse>"
        );
        assert!(response(IAM_NS, "DeleteUser", None, "r").contains(
            "<DeleteUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><ResponseMetadata>"
        ));
        let e = error(STS_NS, &IamError::denied("no \"way\""), "r1");
        assert!(e.ends_with("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>no &quot;way&quot;</Message></Error><RequestId>r1</RequestId></ErrorResponse>"), "{e}");
        assert!(error(IAM_NS, &IamError::internal(), "r").contains("<Type>Receiver</Type>"));
    }

    #[test]
    fn dates_are_iso8601_utc() {
        let at = UNIX_EPOCH + Duration::from_hours(498_896);
        assert_eq!(iso8601(at), "2026-11-30T08:00:00Z");
    }
}
