//! Small name helpers shared by the manifest's model, its validator and the registered-type rules, kept in a leaf so
//! none of them imports another for them: the "did you mean" suggestion and the GUID shape.

/// `true` for an object id (a GUID, any case); the one definition is in `model`, beside the registration id key.
pub use crate::model::is_guid;

/// Suggests the candidate closest to `input` ("`mobil`: did you mean `mobile`?"), ignoring case, `_` and `-`.
pub fn suggest<'c>(input: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let norm = |s: &str| s.to_lowercase().replace(['_', '-', ' '], "");
    let input = norm(input);
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(&input, &norm(c)), *c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
