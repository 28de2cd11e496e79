//! The authentication methods policy as the other handlers read it: the TAP configuration's settings for a user.

use super::super::store::Data;
use super::super::tenant::User;
use super::tap::TapSettings;

/// The TAP configuration's settings as they apply to `user` (Graph's defaults: disabled, 60–480 minutes, default
/// 60, reusable allowed, 8 characters).
pub(crate) fn tap_settings(_data: &Data, _user: &User) -> TapSettings {
    TapSettings {
        enabled: false,
        min: 60,
        max: 480,
        default_lifetime: 60,
        usable_once: false,
        length: 8,
        targeted: false,
    }
}
