//! List bodies and the pagination rule.

use std::collections::HashSet;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::models::{
    BgpNeighbor, BgpSession, Device, Facility, HardwareReservation, IpAssignment, IpReservation,
    Meta, Metro, OperatingSystem, Plan, SshKey,
};

/// A paginated list body: items under a resource-specific key, plus `meta`.
pub(super) trait Paged: DeserializeOwned + Send {
    type Item: Send;
    fn into_parts(self) -> (Vec<Self::Item>, Option<Meta>);
}

/// Declares a list body with its items under `$key`; `paged` adds `meta` and [`Paged`].
macro_rules! list_body {
    ($name:ident, $key:ident, $item:ty) => {
        #[derive(Debug, Deserialize)]
        pub(super) struct $name {
            #[serde(default, deserialize_with = "null_default_vec")]
            pub(super) $key: Vec<$item>,
        }
    };
    (paged $name:ident, $key:ident, $item:ty) => {
        #[derive(Debug, Deserialize)]
        pub(super) struct $name {
            #[serde(default, deserialize_with = "null_default_vec")]
            $key: Vec<$item>,
            #[serde(default)]
            meta: Option<Meta>,
        }

        impl Paged for $name {
            type Item = $item;
            fn into_parts(self) -> (Vec<$item>, Option<Meta>) {
                (self.$key, self.meta)
            }
        }
    };
}

fn null_default_vec<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

list_body!(paged DevicePage, devices, Device);
list_body!(paged IpReservationPage, ip_addresses, IpReservation);
list_body!(paged HardwareReservationPage, hardware_reservations, HardwareReservation);
list_body!(IpAssignmentList, ip_addresses, IpAssignment);
list_body!(MetroList, metros, Metro);
list_body!(FacilityList, facilities, Facility);
list_body!(PlanList, plans, Plan);
list_body!(OperatingSystemList, operating_systems, OperatingSystem);
list_body!(SshKeyList, ssh_keys, SshKey);
list_body!(BgpSessionList, bgp_sessions, BgpSession);
list_body!(BgpNeighborList, bgp_neighbors, BgpNeighbor);

/// The page to read after `page`, or `None` when the list is complete.
///
/// `meta.last_page` decides when present (the Go SDK's rule), else `meta.next` (packngo's rule).
/// An empty page or a missing `meta` ends the list, so a confused server cannot make the
/// client loop.
pub(super) fn next_page(page: u64, items_in_page: usize, meta: Option<&Meta>) -> Option<u64> {
    let meta = meta?;
    if items_in_page == 0 {
        return None;
    }
    let current = meta.current_page.unwrap_or(page);
    let more = match meta.last_page {
        Some(last) => current < last,
        None => meta.next.is_some(),
    };
    // Never go backwards or stand still, whatever `current_page` says.
    more.then(|| current.max(page).saturating_add(1))
}

/// Drops later duplicates (an item can move across a page boundary while the list is read).
pub(super) fn dedup_by_id<T>(items: Vec<T>, id: impl Fn(&T) -> &String) -> Vec<T> {
    let mut seen = HashSet::with_capacity(items.len());
    items
        .into_iter()
        .filter(|item| {
            let key = id(item);
            key.is_empty() || seen.insert(key.clone())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Href;

    fn meta(current: Option<u64>, last: Option<u64>, next: bool) -> Meta {
        Meta {
            current_page: current,
            last_page: last,
            next: next.then(|| Href {
                href: "/x?page=2".into(),
            }),
            ..Meta::default()
        }
    }

    #[test]
    fn last_page_decides_when_present() {
        assert_eq!(
            next_page(1, 10, Some(&meta(Some(1), Some(3), false))),
            Some(2)
        );
        assert_eq!(next_page(3, 10, Some(&meta(Some(3), Some(3), true))), None);
    }

    #[test]
    fn next_link_decides_without_last_page() {
        assert_eq!(next_page(1, 10, Some(&meta(None, None, true))), Some(2));
        assert_eq!(next_page(2, 10, Some(&meta(None, None, false))), None);
    }

    #[test]
    fn an_empty_page_or_no_meta_ends_the_list() {
        assert_eq!(next_page(1, 0, Some(&meta(Some(1), Some(9), true))), None);
        assert_eq!(next_page(1, 10, None), None);
    }

    #[test]
    fn a_server_repeating_page_one_cannot_make_the_client_stand_still() {
        assert_eq!(
            next_page(5, 10, Some(&meta(Some(1), Some(9), true))),
            Some(6)
        );
    }

    #[test]
    fn duplicates_across_pages_are_dropped() {
        let items = vec!["a".to_owned(), "b".to_owned(), "a".to_owned()];
        assert_eq!(dedup_by_id(items, |s| s), ["a", "b"]);
    }
}
