use serde_json::json;

use super::*;

fn entry(path: &[&str], value: Option<Value>, converted: Option<Value>) -> Entry {
    Entry {
        path: path.iter().map(|s| (*s).to_owned()).collect(),
        value,
        converted,
    }
}

#[test]
fn diff_names_each_lost_leaf_with_its_value_and_what_the_mapping_made_of_it() {
    let converted = json!({"apiVersion": "x", "metadata": {"name": "a"},
        "status": {"ready": true, "initialization": {"provisioned": true}}});
    let original = json!({"apiVersion": "y", "metadata": {"name": "b"},
        "status": {"ready": false, "deprecated": {}}});
    assert_eq!(
        diff(&converted, &original),
        [
            entry(&["status", "deprecated"], Some(json!({})), None),
            entry(
                &["status", "initialization"],
                None,
                Some(json!({"provisioned": true}))
            ),
            entry(&["status", "ready"], Some(json!(false)), Some(json!(true))),
        ]
    );
}

#[test]
fn restore_puts_values_back_only_where_the_mapping_result_is_unchanged() {
    let entries = [
        entry(&["status", "ready"], Some(json!(false)), Some(json!(true))),
        entry(
            &["status", "order"],
            Some(json!(["b", "a"])),
            Some(json!(["a", "b"])),
        ),
        entry(&["status", "gone"], None, Some(json!(1))),
        entry(&["missing", "deep"], Some(json!(1)), None),
    ];
    // A client changed `order` after the conversion: its value wins.
    let mut object = json!({"status": {"ready": true, "order": ["a", "c"], "gone": 1}});
    restore(&mut object, &entries).unwrap();
    assert_eq!(
        object,
        json!({"status": {"ready": false, "order": ["a", "c"]}})
    );
}

#[test]
fn restore_refuses_entries_for_metadata_and_empty_paths() {
    let mut object = json!({"metadata": {"name": "a"}});
    let metadata = [entry(
        &["metadata", "name"],
        Some(json!("b")),
        Some(json!("a")),
    )];
    assert!(
        restore(&mut object, &metadata)
            .unwrap_err()
            .contains("metadata")
    );
    assert!(
        restore(&mut object, &[entry(&[], None, None)])
            .unwrap_err()
            .contains("empty path")
    );
    assert_eq!(object, json!({"metadata": {"name": "a"}}));
}

#[test]
fn a_json_null_value_is_kept_apart_from_an_absent_one() {
    let saved = entry(&["spec", "x"], Some(Value::Null), None);
    let text = serde_json::to_string(&saved).unwrap();
    assert_eq!(text, r#"{"path":["spec","x"],"value":null}"#);
    assert_eq!(serde_json::from_str::<Entry>(&text).unwrap(), saved);
}
