//! HAL's `_embedded: { <key>: [...] }` wrapper, read and written as a plain `Vec`.

/// Declares a serde `with` module for `_embedded: { $key: Vec<$item> }`.
macro_rules! embedded_list {
    ($module:ident, $item:ty, $key:ident) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            use serde::{Deserialize, Deserializer, Serialize, Serializer};

            #[derive(Serialize)]
            struct Out<'a> {
                $key: &'a [$item],
            }

            #[derive(Deserialize)]
            struct In {
                #[serde(default)]
                $key: Vec<$item>,
            }

            pub(super) fn serialize<S: Serializer>(
                items: &[$item],
                s: S,
            ) -> Result<S::Ok, S::Error> {
                Out { $key: items }.serialize(s)
            }

            pub(super) fn deserialize<'de, D: Deserializer<'de>>(
                d: D,
            ) -> Result<Vec<$item>, D::Error> {
                Ok(In::deserialize(d)?.$key)
            }
        }
    };
}

pub(crate) use embedded_list;
