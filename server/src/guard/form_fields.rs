//! The fields of a browser form upload, read incrementally before its file part, the way
//! s3s will read them.
//!
//! s3s ignores the form's `acl` field (it reads only `x-amz-acl`), so a signed form asking
//! for `acl=public-read` would be stored, privately, and answered with success; P2 promises
//! a refusal. So the guard reads the fields that precede the file, checks them, and hands
//! s3s the body with those bytes put back in front ([`Prefixed`]).
//!
//! # Design
//! Two past bugs shape this parser. It once re-scanned the whole prefix after every frame
//! (a form sent two bytes at a time cost 12 s of CPU): [`FieldScanner`] keeps its place and
//! looks at each byte a bounded number of times. And it once found `--boundary` anywhere,
//! so a field whose value held a fake boundary hid a later field: delimiters are now
//! anchored as RFC 7578 and s3s have them, a whole line `--boundary` between CRLFs, and part
//! headers follow s3s's grammar (`form-data; name="…"[; filename="…"]`, at most two
//! headers), so both read the same fields or this parser refuses the form.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};

/// What the bytes read so far tell.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Scan {
    /// Every field before the file part, names lower-cased.
    Fields(Vec<(String, String)>),
    /// The fields are not all there yet.
    NeedMore,
    /// Not multipart/form-data as s3s reads it.
    Malformed,
}

/// Where the parser is.
#[derive(Debug, Clone, Copy)]
enum At {
    /// Before the first delimiter line.
    Start,
    /// At the headers of a part starting at this offset.
    Headers(usize),
    /// In the value of a field starting at this offset (its name is the last pushed).
    Value(usize),
    /// Finished: the file part was reached.
    Done,
}

/// Reads the fields of one form as its bytes arrive.
pub(crate) struct FieldScanner {
    /// `\r\n--boundary\r\n`: the delimiter line with the line ends around it.
    delimiter: Vec<u8>,
    buf: BytesMut,
    at: At,
    /// Where the next search for the current terminator may start.
    search_from: usize,
    fields: Vec<(String, String)>,
    /// Bytes looked at by searches so far: the measure of the parser's work.
    #[cfg(test)]
    pub(super) examined: usize,
}

impl FieldScanner {
    /// A scanner for a form with `boundary`.
    pub(crate) fn new(boundary: &str) -> FieldScanner {
        let mut delimiter = Vec::with_capacity(boundary.len() + 6);
        delimiter.extend_from_slice(b"\r\n--");
        delimiter.extend_from_slice(boundary.as_bytes());
        delimiter.extend_from_slice(b"\r\n");
        FieldScanner {
            delimiter,
            buf: BytesMut::new(),
            at: At::Start,
            search_from: 0,
            fields: Vec::new(),
            #[cfg(test)]
            examined: 0,
        }
    }

    /// Bytes taken in so far.
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Everything taken in, to hand on to s3s.
    pub(crate) fn into_bytes(self) -> Bytes {
        self.buf.freeze()
    }

    /// The fields read so far (all of them once [`Scan::Fields`] was returned).
    pub(crate) fn fields(&self) -> &[(String, String)] {
        &self.fields
    }

    /// Takes in `data` and says what is known now.
    pub(crate) fn push(&mut self, data: &[u8]) -> Scan {
        self.buf.extend_from_slice(data);
        loop {
            match self.step() {
                Step::Continue => {}
                Step::Wait => return Scan::NeedMore,
                Step::Malformed => return Scan::Malformed,
                Step::Done => return Scan::Fields(self.fields.clone()),
            }
        }
    }

    fn step(&mut self) -> Step {
        match self.at {
            At::Done => Step::Done,
            At::Start => {
                // The first line is `--boundary`, possibly after one empty line.
                let line = &self.delimiter[2..];
                let with_crlf = &self.delimiter[..];
                for (prefix, len) in [(line, line.len()), (with_crlf, with_crlf.len())] {
                    if self.buf.len() < len {
                        if prefix.starts_with(&self.buf) {
                            return Step::Wait;
                        }
                    } else if self.buf.starts_with(prefix) {
                        self.at = At::Headers(len);
                        return Step::Continue;
                    }
                }
                Step::Malformed
            }
            At::Headers(start) => {
                let block_end = if self.buf.get(start..start + 2) == Some(b"\r\n") {
                    start + 2
                } else {
                    match self.find(b"\r\n\r\n", start) {
                        Some(p) => p + 4,
                        None => return Step::Wait,
                    }
                };
                let Some(name) = part_name(&self.buf[start..block_end]) else {
                    return Step::Malformed;
                };
                if name.eq_ignore_ascii_case("file") {
                    self.at = At::Done;
                    return Step::Done;
                }
                self.fields.push((name.to_ascii_lowercase(), String::new()));
                // The value's first line may itself be the delimiter: search from the CRLF
                // that ended the headers.
                self.at = At::Value(block_end);
                self.search_from = block_end - 2;
                Step::Continue
            }
            At::Value(start) => {
                let delimiter = std::mem::take(&mut self.delimiter);
                let found = self.find(&delimiter, start - 2);
                self.delimiter = delimiter;
                let Some(end) = found else {
                    return Step::Wait;
                };
                let value = std::str::from_utf8(&self.buf[start..end.max(start)]);
                let Ok(value) = value else {
                    return Step::Malformed;
                };
                if let Some(last) = self.fields.last_mut() {
                    value.clone_into(&mut last.1);
                }
                self.at = At::Headers(end + self.delimiter.len());
                Step::Continue
            }
        }
    }

    /// The first `needle` at or after `from`, resuming where the last failed search ended.
    fn find(&mut self, needle: &[u8], from: usize) -> Option<usize> {
        let start = self.search_from.max(from);
        let found = self
            .buf
            .get(start..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + start);
        #[cfg(test)]
        {
            // What the search looked at: up to the end of a match, or to the end.
            let end = found.map_or(self.buf.len(), |p| p + needle.len());
            self.examined += end.saturating_sub(start);
        }
        self.search_from = if found.is_some() {
            0
        } else {
            self.buf.len().saturating_sub(needle.len() - 1).max(start)
        };
        found
    }
}

enum Step {
    Continue,
    Wait,
    Malformed,
    Done,
}

/// The `name` of a part from its header block (ending in the blank line), with s3s's
/// grammar: at most two headers; `Content-Disposition: form-data; name="…"` with an optional
/// `; filename="…"`.
fn part_name(block: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(block).ok()?;
    let lines: Vec<&str> = text
        .strip_suffix("\r\n")?
        .split_terminator("\r\n")
        .collect();
    if lines.len() > 2 {
        return None;
    }
    let disposition = lines.iter().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-disposition")
            .then(|| value.trim())
    })?;
    let rest = disposition.strip_prefix("form-data; name=\"")?;
    let (name, rest) = rest.split_once('"')?;
    let filename_ok = rest.is_empty()
        || rest
            .strip_prefix("; filename=\"")
            .and_then(|r| r.strip_suffix('"'))
            .is_some_and(|f| !f.is_empty() && !f.contains('"'));
    (!name.is_empty() && filename_ok).then_some(name)
}

/// The boundary of a `multipart/form-data` content type.
pub(crate) fn boundary(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (key, value) = param.trim().split_once('=')?;
        let value = value.trim().trim_matches('"');
        (key.trim().eq_ignore_ascii_case("boundary") && !value.is_empty()).then_some(value)
    })
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

    fn scan_whole(bytes: &[u8], boundary: &str) -> Scan {
        FieldScanner::new(boundary).push(bytes)
    }

    fn fields(pairs: &[(&str, &str)]) -> Scan {
        Scan::Fields(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn fields_before_the_file_are_read_however_the_bytes_arrive() {
        let want = fields(&[("key", "uploads/a.txt"), ("acl", "public-read")]);
        assert_eq!(scan_whole(FORM, "xyz"), want);
        let file_head = FORM.windows(8).position(|w| w == b"filename").unwrap();
        for cut in 0..file_head {
            assert_eq!(
                scan_whole(&FORM[..cut], "xyz"),
                Scan::NeedMore,
                "cut at {cut}"
            );
        }
        // Byte by byte, and in two pieces cut anywhere.
        let mut s = FieldScanner::new("xyz");
        let mut last = Scan::NeedMore;
        for b in FORM {
            last = s.push(std::slice::from_ref(b));
            if last != Scan::NeedMore {
                break;
            }
        }
        assert_eq!(last, want);
        for cut in 1..FORM.len() {
            let mut s = FieldScanner::new("xyz");
            let first = s.push(&FORM[..cut]);
            let result = if first == Scan::NeedMore {
                s.push(&FORM[cut..])
            } else {
                first
            };
            assert_eq!(result, want, "cut at {cut}");
        }
        // A leading empty line, as s3s allows.
        let mut lead = b"\r\n".to_vec();
        lead.extend_from_slice(FORM);
        assert_eq!(scan_whole(&lead, "xyz"), want);
    }

    #[test]
    fn a_boundary_inside_a_value_does_not_end_it() {
        // The reported bypass: a value holding `--xyz` (not on a line of its own) used to
        // end the field early and hide the `acl` field that follows.
        let form = b"--xyz\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\na--xyz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n\
--xyz\r\nContent-Disposition: form-data; name=\"acl\"\r\n\r\npublic-read\r\n\
--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nDATA\r\n--xyz--\r\n";
        assert_eq!(
            scan_whole(form, "xyz"),
            fields(&[
                (
                    "key",
                    "a--xyz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx"
                ),
                ("acl", "public-read")
            ])
        );
    }

    #[test]
    fn forms_s3s_would_refuse_are_malformed() {
        assert_eq!(scan_whole(b"junk\r\n--xyz\r\n", "xyz"), Scan::Malformed);
        let no_disposition = b"--xyz\r\nX-Other: 1\r\n\r\nv\r\n--xyz\r\n";
        assert_eq!(scan_whole(no_disposition, "xyz"), Scan::Malformed);
        let three_headers =
            b"--xyz\r\nA: 1\r\nB: 2\r\nContent-Disposition: form-data; name=\"k\"\r\n\r\n";
        assert_eq!(scan_whole(three_headers, "xyz"), Scan::Malformed);
    }

    #[test]
    fn scanning_is_linear_in_the_bytes() {
        // 64 KiB of a field value in 2-byte frames: each push looks at (about) its new bytes
        // only. Re-scanning per frame, as the old scanner did, looks at ~10^9 bytes here.
        let mut s = FieldScanner::new("xyz");
        assert_eq!(
            s.push(b"--xyz\r\nContent-Disposition: form-data; name=\"policy\"\r\n\r\n"),
            Scan::NeedMore
        );
        for _ in 0..32 * 1024 {
            assert_eq!(s.push(b"ab"), Scan::NeedMore);
        }
        assert_eq!(s.fields()[0].0, "policy");
        let len = s.len();
        assert!(
            s.examined < 8 * len,
            "examined {} bytes of {len}",
            s.examined
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
