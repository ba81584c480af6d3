//! A bucket's CORS rules: checked once on the way in (AWS's validation), stored typed, and
//! matched against browsers' requests.
//!
//! Matching follows AWS: the first rule whose origins, methods and (for a preflight)
//! requested headers all match is the one that answers. An origin or header pattern may hold
//! one `*`, standing for any run of characters; origins compare exactly, header names
//! without regard to case.

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use s3s::dto::{CORSConfiguration, CORSRule};
use s3s::{S3Result, s3_error};
use serde::{Deserialize, Serialize};

use crate::limits::{CORS_MAX_CONFIG, CORS_MAX_RULES};

/// The longest rule ID AWS accepts.
const MAX_ID: usize = 255;

/// A method a rule may allow: the five AWS accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum CorsMethod {
    Get,
    Put,
    Head,
    Post,
    Delete,
}

impl CorsMethod {
    fn parse(name: &str) -> Option<CorsMethod> {
        Some(match name {
            "GET" => CorsMethod::Get,
            "PUT" => CorsMethod::Put,
            "HEAD" => CorsMethod::Head,
            "POST" => CorsMethod::Post,
            "DELETE" => CorsMethod::Delete,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            CorsMethod::Get => "GET",
            CorsMethod::Put => "PUT",
            CorsMethod::Head => "HEAD",
            CorsMethod::Post => "POST",
            CorsMethod::Delete => "DELETE",
        }
    }
}

/// One rule, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Rule {
    id: Option<String>,
    origins: Vec<String>,
    methods: Vec<CorsMethod>,
    headers: Vec<String>,
    expose: Vec<String>,
    max_age: Option<i32>,
}

/// A bucket's CORS configuration, as stored (postcard) in the bucket setting `Cors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CorsRules {
    rules: Vec<Rule>,
}

/// What a browser asks of a bucket, read from its request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ask<'a> {
    /// The `Origin` header.
    pub(crate) origin: &'a HeaderValue,
    /// The method: the request's own, or a preflight's `Access-Control-Request-Method`.
    pub(crate) method: &'a str,
    /// A preflight's `Access-Control-Request-Headers` (`None` for an actual request).
    pub(crate) preflight_headers: Option<&'a str>,
}

fn malformed() -> s3s::S3Error {
    s3_error!(
        MalformedXML,
        "The XML you provided was not well-formed or did not validate against our published schema"
    )
}

/// Whether `value` matches `pattern`, which may hold one `*` for any run of characters.
fn wildcard_match(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let eq = |a: &str, b: &str| {
        if ignore_case {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    match pattern.split_once('*') {
        None => eq(pattern, value),
        Some((head, tail)) => {
            value.len() >= head.len() + tail.len()
                && value.is_char_boundary(head.len())
                && value.is_char_boundary(value.len() - tail.len())
                && eq(&value[..head.len()], head)
                && eq(&value[value.len() - tail.len()..], tail)
        }
    }
}

impl Rule {
    fn from_dto(rule: CORSRule) -> S3Result<Rule> {
        if rule.allowed_methods.is_empty() || rule.allowed_origins.is_empty() {
            return Err(malformed());
        }
        let methods = rule
            .allowed_methods
            .iter()
            .map(|m| CorsMethod::parse(m))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                s3_error!(
                    InvalidRequest,
                    "Found unsupported HTTP method in CORS config: only GET, PUT, HEAD, POST and DELETE can be allowed"
                )
            })?;
        for origin in &rule.allowed_origins {
            if origin.is_empty() || origin.matches('*').count() > 1 {
                return Err(s3_error!(
                    InvalidRequest,
                    "An AllowedOrigin can not be empty or have more than one wildcard"
                ));
            }
        }
        let headers = rule.allowed_headers.unwrap_or_default();
        if headers
            .iter()
            .any(|h| h.is_empty() || h.matches('*').count() > 1)
        {
            return Err(s3_error!(
                InvalidRequest,
                "An AllowedHeader can not be empty or have more than one wildcard"
            ));
        }
        let expose = rule.expose_headers.unwrap_or_default();
        if expose.iter().any(|h| h.contains('*')) {
            return Err(s3_error!(
                InvalidRequest,
                "An ExposeHeader can not contain a wildcard"
            ));
        }
        // What is exposed is sent back as header values: they must be ones.
        if expose
            .iter()
            .any(|h| HeaderName::try_from(h.as_str()).is_err())
        {
            return Err(s3_error!(
                InvalidRequest,
                "An ExposeHeader is not a valid header name"
            ));
        }
        if rule
            .id
            .as_ref()
            .is_some_and(|id| id.chars().count() > MAX_ID)
        {
            return Err(s3_error!(
                InvalidArgument,
                "The ID of a CORS rule can not be longer than 255 characters"
            ));
        }
        if rule.max_age_seconds.is_some_and(|age| age < 0) {
            return Err(malformed());
        }
        Ok(Rule {
            id: rule.id,
            origins: rule.allowed_origins,
            methods,
            headers,
            expose,
            max_age: rule.max_age_seconds,
        })
    }

    fn to_dto(&self) -> CORSRule {
        CORSRule {
            allowed_headers: (!self.headers.is_empty()).then(|| self.headers.clone()),
            allowed_methods: self.methods.iter().map(|m| m.as_str().to_owned()).collect(),
            allowed_origins: self.origins.clone(),
            expose_headers: (!self.expose.is_empty()).then(|| self.expose.clone()),
            id: self.id.clone(),
            max_age_seconds: self.max_age,
        }
    }

    fn size(&self) -> usize {
        let strings = self
            .origins
            .iter()
            .chain(&self.headers)
            .chain(&self.expose)
            .chain(&self.id);
        strings.map(String::len).sum::<usize>() + self.methods.len() * 8
    }

    fn matches(&self, ask: &Ask<'_>) -> bool {
        let Ok(origin) = ask.origin.to_str() else {
            return false;
        };
        let origin_ok = self
            .origins
            .iter()
            .any(|p| wildcard_match(p, origin, false));
        let method_ok = self.methods.iter().any(|m| m.as_str() == ask.method);
        let headers_ok = ask.preflight_headers.is_none_or(|asked| {
            requested_headers(asked).all(|name| {
                self.headers
                    .iter()
                    .any(|pattern| wildcard_match(pattern, name, true))
            })
        });
        origin_ok && method_ok && headers_ok
    }

    /// The headers answering `ask` (which this rule matches).
    fn answer(&self, ask: &Ask<'_>) -> HeaderMap {
        let mut out = HeaderMap::new();
        let any_origin = self.origins.iter().any(|o| o == "*");
        if any_origin {
            out.insert(
                http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
        } else {
            out.insert(
                http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
                ask.origin.clone(),
            );
            out.insert(
                http::header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        let methods: Vec<&str> = self.methods.iter().map(|m| m.as_str()).collect();
        if let Ok(value) = HeaderValue::from_str(&methods.join(", ")) {
            out.insert(http::header::ACCESS_CONTROL_ALLOW_METHODS, value);
        }
        if let Some(asked) = ask.preflight_headers {
            let names: Vec<String> = requested_headers(asked)
                .map(str::to_ascii_lowercase)
                .collect();
            if let (false, Ok(value)) = (names.is_empty(), HeaderValue::from_str(&names.join(", ")))
            {
                out.insert(http::header::ACCESS_CONTROL_ALLOW_HEADERS, value);
            }
        }
        if let (false, Ok(value)) = (
            self.expose.is_empty(),
            HeaderValue::from_str(&self.expose.join(", ")),
        ) {
            out.insert(http::header::ACCESS_CONTROL_EXPOSE_HEADERS, value);
        }
        if let Some(age) = self.max_age {
            out.insert(http::header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(age));
        }
        out.insert(
            http::header::VARY,
            HeaderValue::from_static(
                "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
            ),
        );
        out
    }
}

/// The names in an `Access-Control-Request-Headers` value.
fn requested_headers(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|n| !n.is_empty())
}

impl CorsRules {
    /// Checks `config` as AWS does.
    ///
    /// # Errors
    /// `MalformedXML` for no rules, or a rule without an origin or a method;
    /// `InvalidRequest` for an unsupported method, a pattern with two wildcards, a wildcard
    /// in an exposed header, too many rules or too large a configuration;
    /// `InvalidArgument` for too long an ID.
    pub(crate) fn from_dto(config: CORSConfiguration) -> S3Result<CorsRules> {
        if config.cors_rules.is_empty() {
            return Err(malformed());
        }
        if config.cors_rules.len() > CORS_MAX_RULES {
            return Err(s3_error!(
                InvalidRequest,
                "A CORS configuration can hold at most 100 rules"
            ));
        }
        let rules = config
            .cors_rules
            .into_iter()
            .map(Rule::from_dto)
            .collect::<S3Result<Vec<_>>>()?;
        if rules.iter().map(Rule::size).sum::<usize>() > CORS_MAX_CONFIG {
            return Err(s3_error!(
                InvalidRequest,
                "The CORS configuration is larger than 64 KB"
            ));
        }
        Ok(CorsRules { rules })
    }

    /// The rules, as GetBucketCors answers them.
    pub(crate) fn to_dto(&self) -> Vec<CORSRule> {
        self.rules.iter().map(Rule::to_dto).collect()
    }

    /// The headers answering `ask`, from the first rule that matches it; `None` if none does.
    pub(crate) fn answer(&self, ask: &Ask<'_>) -> Option<HeaderMap> {
        self.rules
            .iter()
            .find(|rule| rule.matches(ask))
            .map(|rule| rule.answer(ask))
    }

    /// The headers answering an actual (not preflight) request with `origin` and `method`.
    pub(crate) fn answer_request(
        &self,
        origin: &HeaderValue,
        method: &Method,
    ) -> Option<HeaderMap> {
        self.answer(&Ask {
            origin,
            method: method.as_str(),
            preflight_headers: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use s3s::S3ErrorCode;

    fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> CORSRule {
        let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        CORSRule {
            allowed_headers: (!headers.is_empty()).then(|| strings(headers)),
            allowed_methods: strings(methods),
            allowed_origins: strings(origins),
            expose_headers: Some(vec!["ETag".to_owned()]),
            id: Some("r".to_owned()),
            max_age_seconds: Some(600),
        }
    }

    fn config(rules: Vec<CORSRule>) -> CORSConfiguration {
        CORSConfiguration { cors_rules: rules }
    }

    fn code(result: S3Result<CorsRules>) -> S3ErrorCode {
        result.unwrap_err().code().clone()
    }

    fn ask<'a>(origin: &'a HeaderValue, method: &'a str, headers: Option<&'a str>) -> Ask<'a> {
        Ask {
            origin,
            method,
            preflight_headers: headers,
        }
    }

    #[test]
    fn aws_validation() {
        assert_eq!(
            code(CorsRules::from_dto(config(vec![]))),
            S3ErrorCode::MalformedXML
        );
        for (bad, expected) in [
            (rule(&[], &["GET"], &[]), S3ErrorCode::MalformedXML),
            (rule(&["*"], &[], &[]), S3ErrorCode::MalformedXML),
            (rule(&["*"], &["PATCH"], &[]), S3ErrorCode::InvalidRequest),
            (rule(&["*"], &["get"], &[]), S3ErrorCode::InvalidRequest),
            (
                rule(&["https://*.a.*"], &["GET"], &[]),
                S3ErrorCode::InvalidRequest,
            ),
            (
                rule(&["*"], &["GET"], &["x-*-*"]),
                S3ErrorCode::InvalidRequest,
            ),
        ] {
            assert_eq!(code(CorsRules::from_dto(config(vec![bad]))), expected);
        }
        let mut expose_wild = rule(&["*"], &["GET"], &[]);
        expose_wild.expose_headers = Some(vec!["*".to_owned()]);
        assert_eq!(
            code(CorsRules::from_dto(config(vec![expose_wild]))),
            S3ErrorCode::InvalidRequest
        );
        let mut long_id = rule(&["*"], &["GET"], &[]);
        long_id.id = Some("i".repeat(256));
        assert_eq!(
            code(CorsRules::from_dto(config(vec![long_id]))),
            S3ErrorCode::InvalidArgument
        );
        let many = (0..=CORS_MAX_RULES)
            .map(|_| rule(&["*"], &["GET"], &[]))
            .collect();
        assert_eq!(
            code(CorsRules::from_dto(config(many))),
            S3ErrorCode::InvalidRequest
        );
        let huge = rule(&[&"o".repeat(CORS_MAX_CONFIG)], &["GET"], &[]);
        assert_eq!(
            code(CorsRules::from_dto(config(vec![huge]))),
            S3ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn round_trips_through_storage_and_the_api() {
        let given = config(vec![
            rule(&["https://app.clinic.example"], &["PUT", "GET"], &["*"]),
            rule(&["*"], &["HEAD"], &[]),
        ]);
        let rules = CorsRules::from_dto(given.clone()).unwrap();
        let stored: CorsRules =
            postcard::from_bytes(&postcard::to_allocvec(&rules).unwrap()).unwrap();
        assert_eq!(stored, rules);
        assert_eq!(stored.to_dto(), given.cors_rules);
    }

    #[test]
    fn the_first_matching_rule_answers() {
        let rules = CorsRules::from_dto(config(vec![
            rule(
                &["https://*.clinic.example"],
                &["PUT"],
                &["content-type", "x-amz-*"],
            ),
            rule(&["*"], &["GET"], &[]),
        ]))
        .unwrap();
        let app = HeaderValue::from_static("https://upload.clinic.example");
        let answer = rules
            .answer(&ask(&app, "PUT", Some("Content-Type, X-Amz-Meta-Study")))
            .unwrap();
        assert_eq!(answer["access-control-allow-origin"], app);
        assert_eq!(answer["access-control-allow-credentials"], "true");
        assert_eq!(answer["access-control-allow-methods"], "PUT");
        assert_eq!(
            answer["access-control-allow-headers"],
            "content-type, x-amz-meta-study"
        );
        assert_eq!(answer["access-control-expose-headers"], "ETag");
        assert_eq!(answer["access-control-max-age"], "600");

        // A header no rule allows; a method only the wildcard rule allows.
        assert!(
            rules
                .answer(&ask(&app, "PUT", Some("authorization")))
                .is_none()
        );
        let get = rules.answer(&ask(&app, "GET", None)).unwrap();
        assert_eq!(get["access-control-allow-origin"], "*");
        assert!(get.get("access-control-allow-credentials").is_none());
        assert!(rules.answer(&ask(&app, "DELETE", None)).is_none());
    }

    #[test]
    fn origins_match_exactly_or_around_one_wildcard() {
        let rules = CorsRules::from_dto(config(vec![rule(
            &["https://*.clinic.example"],
            &["GET"],
            &[],
        )]))
        .unwrap();
        let matches = |origin: &'static str| {
            rules
                .answer(&ask(&HeaderValue::from_static(origin), "GET", None))
                .is_some()
        };
        assert!(matches("https://a.clinic.example"));
        assert!(matches("https://a.b.clinic.example"));
        assert!(!matches("http://a.clinic.example"));
        assert!(!matches("https://clinic.example"));
        assert!(!matches("https://a.clinic.example.evil"));
        assert!(!matches("HTTPS://A.CLINIC.EXAMPLE"));
    }

    #[test]
    fn wildcards_never_split_a_character() {
        assert!(!wildcard_match("é*é", "é", false));
        assert!(wildcard_match("a*", "aé", false));
        assert!(wildcard_match("*", "", false));
    }
}
