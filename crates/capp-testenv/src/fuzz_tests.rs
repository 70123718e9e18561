//! Property tests that parsers of request input never panic, and thread-safety checks.

use proptest::prelude::*;
use serde_json::json;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn selectors_never_panic(s in "\\PC{0,64}") {
        let _ = crate::selector::LabelSelector::parse(&s);
        let _ = crate::selector::FieldSelector::parse(&s, &["spec.x".to_owned()]);
    }

    #[test]
    fn jsonpath_never_panics(s in "[.\\[\\]?@=!'\"a-z0-9*()\\\\ ]{0,40}") {
        let obj = json!({"a": [{"b": 1}, {"b": "x"}], "c": {"d.e": true}});
        let _ = crate::table::eval(&s, &obj);
    }

    #[test]
    fn protobuf_bodies_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = crate::protobuf::decode(&bytes);
        let mut framed = b"k8s\0".to_vec();
        framed.append(&mut bytes);
        let _ = crate::protobuf::decode(&framed);
    }

    #[test]
    fn query_strings_and_paths_never_panic(q in "\\PC{0,80}", p in "[a-z0-9/._-]{0,60}") {
        let _ = crate::http::parse_query(Some(&q));
        let segs: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
        let _ = crate::server::parse_target(&segs);
    }

    #[test]
    fn ages_render_for_any_timestamp(s in "\\PC{0,30}", secs in any::<i64>()) {
        let _ = crate::util::human_age(&s);
        let _ = crate::util::human_duration(secs.max(0));
    }
}

#[test]
fn the_test_environment_can_be_shared_between_tasks() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<crate::TestEnv>();
    assert_send_sync::<crate::Error>();
}
