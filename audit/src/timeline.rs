//! One line per request: a change's intent record is folded into its outcome.
//!
//! A change has two records (see [`crate::Phase`]); a reader wants one per request. The
//! outcome says everything the intent does and more, so an intent is dropped when its
//! outcome comes. An intent whose outcome never comes (the server died in between) is kept:
//! the change may have been made, and this is its only record.

use std::collections::{BTreeMap, HashMap};

use crate::record::{Phase, Record};

/// Intents held while waiting for their outcomes, at most. Past it the oldest is given
/// out as unfinished: the requests in flight at any moment are far fewer, so only intents
/// orphaned by crashes get there, and memory stays bounded however long the trail.
const MAX_WAITING: usize = 4096;

/// Folds intents into outcomes over an iterator of `(sequence, record)` in sequence order.
/// Items come in the order outcomes (or unfinished intents) were written.
pub struct Timeline<I> {
    records: I,
    /// Intents waiting, by sequence.
    waiting: BTreeMap<u64, Record>,
    /// The sequence of each waiting intent, by request id.
    by_request: HashMap<String, u64>,
    ended: bool,
}

impl<I> Timeline<I> {
    /// Folds `records`.
    pub fn new(records: I) -> Timeline<I> {
        Timeline {
            records,
            waiting: BTreeMap::new(),
            by_request: HashMap::new(),
            ended: false,
        }
    }

    fn oldest_waiting(&mut self) -> Option<(u64, Record)> {
        let (sequence, record) = self.waiting.pop_first()?;
        self.by_request.remove(&record.request_id);
        Some((sequence, record))
    }
}

impl<I, E> Iterator for Timeline<I>
where
    I: Iterator<Item = Result<(u64, Record), E>>,
{
    type Item = Result<(u64, Record), E>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.ended {
            match self.records.next() {
                None => self.ended = true,
                Some(Err(e)) => return Some(Err(e)),
                Some(Ok((sequence, record))) => match record.phase {
                    Phase::Intent => {
                        // A request id is the server's, unique per request: a repeat is a
                        // replaced intent, of which the newest counts.
                        if let Some(old) =
                            self.by_request.insert(record.request_id.clone(), sequence)
                        {
                            self.waiting.remove(&old);
                        }
                        self.waiting.insert(sequence, record);
                        if self.waiting.len() > MAX_WAITING {
                            return self.oldest_waiting().map(Ok);
                        }
                    }
                    Phase::Outcome => {
                        if let Some(intent) = self.by_request.remove(&record.request_id) {
                            self.waiting.remove(&intent);
                        }
                        return Some(Ok((sequence, record)));
                    }
                },
            }
        }
        self.oldest_waiting().map(Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(phase: Phase, id: &str) -> Record {
        Record {
            phase,
            request_id: id.to_owned(),
            ..Record::default()
        }
    }

    fn fold(records: Vec<Record>) -> Vec<(u64, Phase, String)> {
        let items = records
            .into_iter()
            .zip(1..)
            .map(|(r, s)| Ok::<_, ()>((s, r)));
        Timeline::new(items)
            .map(|i| {
                let (s, r) = i.unwrap();
                (s, r.phase, r.request_id)
            })
            .collect()
    }

    #[test]
    fn an_intent_with_an_outcome_is_folded_and_an_orphan_is_kept() {
        let got = fold(vec![
            rec(Phase::Intent, "put"),
            rec(Phase::Outcome, "get"),
            rec(Phase::Intent, "lost"),
            rec(Phase::Outcome, "put"),
        ]);
        assert_eq!(
            got,
            [
                (2, Phase::Outcome, "get".to_owned()),
                (4, Phase::Outcome, "put".to_owned()),
                (3, Phase::Intent, "lost".to_owned()),
            ]
        );
    }

    #[test]
    fn waiting_intents_are_bounded() {
        let mut records: Vec<Record> = (0..MAX_WAITING + 10)
            .map(|i| rec(Phase::Intent, &format!("i{i}")))
            .collect();
        records.push(rec(Phase::Outcome, &format!("i{}", MAX_WAITING + 9)));
        let got = fold(records);
        assert_eq!(got.len(), MAX_WAITING + 10);
        // The oldest orphans come out first, once the bound is passed.
        assert_eq!(got[0], (1, Phase::Intent, "i0".to_owned()));
    }
}
