//! The parameters of an IAM or STS request: the query string and, for a POST, the
//! `application/x-www-form-urlencoded` body, decoded.

use http::header::CONTENT_TYPE;
use http::{HeaderMap, Method};

use super::error::IamError;

/// Decoded parameters, each name given once.
#[derive(Debug)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    /// The parameters of the query and, for a form POST, of the body.
    ///
    /// # Errors
    /// `ValidationError` when either does not decode, or a parameter is given twice (two
    /// readings of one request must not differ, as for S3's authentication parameters).
    pub(crate) fn parse(
        method: &Method,
        headers: &HeaderMap,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<Params, IamError> {
        let bad = || IamError::validation("The request parameters could not be decoded.");
        let mut pairs: Vec<(String, String)> = match query {
            Some(q) => serde_urlencoded::from_str(q).map_err(|_| bad())?,
            None => Vec::new(),
        };
        if method == Method::POST && is_form(headers) {
            let form: Vec<(String, String)> =
                serde_urlencoded::from_bytes(body).map_err(|_| bad())?;
            pairs.extend(form);
        }
        for (i, (name, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(n, _)| n == name) {
                return Err(IamError::validation(
                    "A request parameter is given more than once.",
                ));
            }
        }
        Ok(Params(pairs))
    }

    /// Parameter `name`, if given.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Parameter `name`; `field` is how IAM's messages call it (`userName`).
    ///
    /// # Errors
    /// `ValidationError` when it is missing.
    pub(crate) fn required(&self, name: &str, field: &'static str) -> Result<&str, IamError> {
        self.get(name).ok_or_else(|| IamError::missing(field))
    }
}

/// Whether the body is a URL-encoded form.
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| {
            t.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn form_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
        h
    }

    #[test]
    fn query_and_form_body_are_both_read() {
        let p = Params::parse(
            &Method::POST,
            &form_headers(),
            Some("Version=2010-05-08"),
            b"Action=PutUserPolicy&PolicyDocument=%7B%22a%22%3A+1%7D",
        )
        .unwrap();
        assert_eq!(p.get("Action"), Some("PutUserPolicy"));
        assert_eq!(p.get("Version"), Some("2010-05-08"));
        assert_eq!(p.get("PolicyDocument"), Some("{\"a\": 1}"));
        let get = Params::parse(
            &Method::GET,
            &HeaderMap::new(),
            Some("Action=ListUsers"),
            b"",
        )
        .unwrap();
        assert_eq!(get.get("Action"), Some("ListUsers"));
        assert_eq!(
            get.required("UserName", "userName").unwrap_err().code,
            "ValidationError"
        );
    }

    #[test]
    fn a_parameter_given_twice_is_refused() {
        let twice = Params::parse(
            &Method::POST,
            &form_headers(),
            Some("Action=ListUsers"),
            b"Action=CreateUser",
        );
        assert_eq!(twice.unwrap_err().code, "ValidationError");
    }
}
