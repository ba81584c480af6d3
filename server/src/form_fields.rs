//! The fields of a browser form upload, read before its file part.
//!
//! s3s ignores the form's `acl` field (it reads only `x-amz-acl`), so a signed form asking
//! for `acl=public-read` would be stored, privately, and answered with success. P2 promises a
//! refusal instead, so the guard reads the fields that precede the file (small, bounded by
//! [`FIELDS_MAX`]), checks them, and hands s3s the body with those bytes put back in front
//! ([`Prefixed`]).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// Most bytes of form fields read before the file part (AWS allows 20 KB of policy; fields
/// beyond a few KiB are not something a browser form sends).
pub(crate) const FIELDS_MAX: usize = 256 << 10;

/// What the bytes read so far tell.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Scan {
    /// Every field before the file part, names lower-cased.
    Fields(Vec<(String, String)>),
    /// The fields are not all there yet.
    NeedMore,
}

/// Parses the fields at the start of a `multipart/form-data` body, up to the file part.
pub(crate) fn scan(prefix: &[u8], boundary: &str) -> Scan {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut fields = Vec::new();
    let Some(mut at) = find(prefix, delimiter, 0) else {
        return Scan::NeedMore;
    };
    loop {
        let part = at + delimiter.len();
        // "--" after a delimiter closes the form.
        if prefix.get(part..part + 2) == Some(b"--") {
            return Scan::Fields(fields);
        }
        let Some(head_end) = find(prefix, b"\r\n\r\n", part) else {
            return Scan::NeedMore;
        };
        let head = String::from_utf8_lossy(&prefix[part..head_end]);
        let name = field_name(&head).unwrap_or_default().to_ascii_lowercase();
        if name == "file" {
            return Scan::Fields(fields);
        }
        let value_start = head_end + 4;
        let Some(next) = find(prefix, delimiter, value_start) else {
            return Scan::NeedMore;
        };
        let value_end = next.saturating_sub(2).max(value_start); // the CRLF before it
        let value = String::from_utf8_lossy(&prefix[value_start..value_end]).into_owned();
        fields.push((name, value));
        at = next;
    }
}

/// The `name="…"` of a part's `Content-Disposition` header.
fn field_name(head: &str) -> Option<&str> {
    let disposition = head.split("\r\n").find(|line| {
        line.get(..20)
            .is_some_and(|p| p.eq_ignore_ascii_case("content-disposition:"))
    })?;
    disposition.split(';').find_map(|param| {
        let (key, value) = param.trim().split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("name")
            .then(|| value.trim().trim_matches('"'))
    })
}

/// The boundary of a `multipart/form-data` content type.
pub(crate) fn boundary(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (key, value) = param.trim().split_once('=')?;
        let value = value.trim().trim_matches('"');
        (key.trim().eq_ignore_ascii_case("boundary") && !value.is_empty()).then_some(value)
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// A body whose first bytes were already read: yields them, then the rest.
pub(crate) struct Prefixed<B> {
    prefix: Option<Bytes>,
    rest: B,
}

impl<B> Prefixed<B> {
    /// `prefix`, then whatever `rest` still yields.
    pub(crate) fn new(prefix: Bytes, rest: B) -> Prefixed<B> {
        Prefixed {
            prefix: (!prefix.is_empty()).then_some(prefix),
            rest,
        }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for Prefixed<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        if let Some(prefix) = this.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        Pin::new(&mut this.rest).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let extra = self.prefix.as_ref().map_or(0, |p| p.len() as u64);
        let rest = self.rest.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower() + extra);
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper + extra);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: &[u8] =
        b"--xyz\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nuploads/a.txt\r\n\
--xyz\r\ncontent-disposition: form-data; name=\"ACL\"\r\n\r\npublic-read\r\n\
--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nDATA\r\n--xyz--\r\n";

    #[test]
    fn fields_before_the_file_are_read() {
        let fields = vec![
            ("key".to_owned(), "uploads/a.txt".to_owned()),
            ("acl".to_owned(), "public-read".to_owned()),
        ];
        assert_eq!(scan(FORM, "xyz"), Scan::Fields(fields.clone()));
        // Cut anywhere before the file part's header ends: not all there yet.
        let file_head = find(FORM, b"filename", 0).unwrap();
        for cut in 0..file_head {
            assert_eq!(scan(&FORM[..cut], "xyz"), Scan::NeedMore, "cut at {cut}");
        }
        // A form closed without a file.
        let closed = b"--b\r\nContent-Disposition: form-data; name=\"k\"\r\n\r\nv\r\n--b--\r\n";
        assert_eq!(
            scan(closed, "b"),
            Scan::Fields(vec![("k".to_owned(), "v".to_owned())])
        );
    }

    #[test]
    fn boundaries() {
        assert_eq!(boundary("multipart/form-data; boundary=xyz"), Some("xyz"));
        assert_eq!(
            boundary("multipart/form-data; charset=utf-8; Boundary=\"a b\""),
            Some("a b")
        );
        assert_eq!(boundary("multipart/form-data"), None);
        assert_eq!(boundary("multipart/form-data; boundary="), None);
    }
}
