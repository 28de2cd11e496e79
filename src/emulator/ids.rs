//! Identifiers and timestamps the emulator writes into answers: fresh GUIDs (request ids, operation ids, trace ids),
//! Graph's ISO 8601 date format, and the password method's well-known id. A leaf: it imports nothing of the emulator.

/// The password method id, the same for every user.
pub const PASSWORD_METHOD_ID: &str = "28c10230-6103-485e-b985-444c60001490";

/// A fresh random GUID (request ids, operation ids). Not from the seeded generator, so ids never perturb the
/// fault sequence.
pub(crate) fn new_guid() -> String {
    let b: [u8; 16] = rand::random();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        u16::from_be_bytes([b[4], b[5]]),
        u16::from_be_bytes([b[6], b[7]]) & 0x0fff,
        (u16::from_be_bytes([b[8], b[9]]) & 0x3fff) | 0x8000,
        u64::from_be_bytes([0, 0, b[10], b[11], b[12], b[13], b[14], b[15]])
    )
}

/// ISO 8601 without fractional seconds, as Graph writes `innerError.date`.
pub(crate) fn iso(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_look_like_guids() {
        let g = new_guid();
        assert_eq!(g.len(), 36);
        assert_eq!(g.matches('-').count(), 4);
    }
}
