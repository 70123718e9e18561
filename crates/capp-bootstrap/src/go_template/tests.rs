use secrecy::SecretString;

use super::*;

fn cp_values() -> GoTemplateValues {
    GoTemplateValues {
        kubernetes_version: Some("v1.32.3".into()),
        control_plane_endpoint: Some("147.75.80.10".into()),
        cpem_config: Some("emlb:///da".into()),
        emlb_id: Some("lb-123".into()),
        api_key: GoApiKey::Token(MetalApiTokenOptIn {
            token: SecretString::from("s3cr3t".to_owned()),
        }),
    }
}

fn render(template: &str) -> String {
    render_go_template(template, &cp_values()).unwrap()
}

fn unsupported_at(template: &str) -> (usize, usize, String, String) {
    match render_go_template(template, &cp_values()).unwrap_err() {
        Error::UnsupportedGoTemplate {
            line,
            column,
            construct,
            reason,
        } => (line, column, construct, reason),
        other => panic!("unexpected error {other}"),
    }
}

#[test]
fn every_key_of_the_go_provider_renders_its_value() {
    assert_eq!(
        render(
            "{{ .kubernetesVersion }} {{ .controlPlaneEndpoint }} {{ .cpemConfig }} {{ .emlbID }} {{ .apiKey }}"
        ),
        "v1.32.3 147.75.80.10 emlb:///da lb-123 s3cr3t"
    );
    assert_eq!(render("{{.kubernetesVersion}}"), "v1.32.3");
    assert_eq!(render("{{ \t.emlbID\n }}"), "lb-123");
}

#[test]
fn text_without_actions_and_lone_closing_braces_are_unchanged() {
    for text in ["", "#cloud-config\nruncmd: [\"echo }} {\"]\n", "{ } }} {"] {
        assert_eq!(render(text), text);
    }
}

#[test]
fn raw_strings_print_verbatim_even_with_braces_and_newlines() {
    assert_eq!(
        render("provider-id: equinixmetal://{{ `{{ v1.instance_id }}` }}"),
        "provider-id: equinixmetal://{{ v1.instance_id }}"
    );
    assert_eq!(render("{{`a}}\nb`}}"), "a}}\nb");
    assert_eq!(render("{{ `` }}x"), "x");
}

#[test]
fn keys_the_go_provider_did_not_set_print_no_value_like_go() {
    let worker = GoTemplateValues {
        kubernetes_version: Some(String::new()),
        api_key: GoApiKey::Unset,
        ..GoTemplateValues::default()
    };
    assert_eq!(
        render_go_template(
            "[{{ .kubernetesVersion }}] {{ .controlPlaneEndpoint }} {{ .cpemConfig }} {{ .emlbID }} {{ .apiKey }}",
            &worker
        )
        .unwrap(),
        "[] <no value> <no value> <no value> <no value>"
    );
}

#[test]
fn trim_markers_remove_surrounding_whitespace_like_go() {
    assert_eq!(render("a \n\t{{- .emlbID -}} \r\n b"), "alb-123b");
    assert_eq!(render("a  {{- .emlbID }}  b"), "alb-123  b");
    assert_eq!(render("a  {{ .emlbID -}}  b"), "a  lb-123b");
    assert_eq!(render("x {{- `y` -}}\n{{- `z` }}"), "xyz");
    // Trimming stops at the first non-space, and only the adjacent text is trimmed.
    assert_eq!(render("a. {{- .emlbID }}"), "a.lb-123");
    assert_eq!(render("{{ .emlbID -}}"), "lb-123");
}

#[test]
fn the_api_key_needs_the_opt_in_and_the_error_says_where_and_how() {
    let values = GoTemplateValues {
        api_key: GoApiKey::Refused,
        ..cp_values()
    };
    let err = render_go_template("line one\n  key: \"{{ .apiKey }}\"\n", &values).unwrap_err();
    assert!(
        matches!(err, Error::GoTemplateApiKeyRefused { line: 2, column: 9 }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("opt-in flag"), "{message}");
    assert!(message.contains("{{ .apiKey }}"), "{message}");
    // Without the key in the template, no opt-in is needed.
    assert_eq!(
        render_go_template("{{ .kubernetesVersion }}", &values).unwrap(),
        "v1.32.3"
    );
}

#[test]
fn the_token_is_not_in_debug_output() {
    let debug = format!("{:?}", cp_values());
    assert!(!debug.contains("s3cr3t"), "{debug}");
    assert!(debug.contains("Token([REDACTED])"), "{debug}");
}

#[test]
fn constructs_outside_the_subset_are_errors_naming_them_and_their_position() {
    for (template, line, column, construct, reason) in [
        (
            "{{ if .emlbID }}x{{ end }}",
            1,
            1,
            "{{ if .emlbID }}",
            "`if` action",
        ),
        (
            "a\nb {{- range .VLANs }}",
            2,
            3,
            "{{- range .VLANs }}",
            "`range` action",
        ),
        (
            "{{ .kubernetesVersion | printf \"%s\" }}",
            1,
            1,
            "{{ .kubernetesVersion | printf \"%s\" }}",
            "only one value per action",
        ),
        (
            "{{ printf \"%s\" .apiKey }}",
            1,
            1,
            "{{ printf \"%s\" .apiKey }}",
            "`printf`",
        ),
        ("{{ $x := 1 }}", 1, 1, "{{ $x := 1 }}", "variables"),
        (
            "{{ \"quoted\" }}",
            1,
            1,
            "{{ \"quoted\" }}",
            "interpreted string literals",
        ),
        ("{{/* note */}}", 1, 1, "{{/* note */}}", "comments"),
        ("{{ . }}", 1, 1, "{{ . }}", "whole data map"),
        ("{{ .metro }}", 1, 1, "{{ .metro }}", "unknown key .metro"),
        (
            "{{ .KubernetesVersion }}",
            1,
            1,
            "{{ .KubernetesVersion }}",
            "unknown key",
        ),
        (
            "{{ .a.b }}",
            1,
            1,
            "{{ .a.b }}",
            "only one value per action",
        ),
        ("{{ }}", 1, 1, "{{ }}", "empty action"),
        ("x {{ .emlbID", 1, 3, "{{ .emlbID", "unclosed action"),
        ("{{ `open }}", 1, 1, "{{ `open }}", "unterminated raw"),
        ("{{ 3 }}", 1, 1, "{{ 3 }}", "numbers"),
        ("é {{-3}}", 1, 3, "{{-3}}", "numbers"),
    ] {
        let (got_line, got_column, got_construct, got_reason) = unsupported_at(template);
        assert_eq!((got_line, got_column), (line, column), "{template}");
        assert_eq!(got_construct, construct, "{template}");
        assert!(got_reason.contains(reason), "{template}: {got_reason}");
    }
    let message = render_go_template("{{ .metro }}", &cp_values())
        .unwrap_err()
        .to_string();
    assert!(
        message
            .contains(".kubernetesVersion, .controlPlaneEndpoint, .cpemConfig, .emlbID, .apiKey"),
        "{message}"
    );
}

#[test]
fn values_for_a_machine_follow_the_go_provider() {
    let opt_in = MetalApiTokenOptIn {
        token: SecretString::from("t".to_owned()),
    };
    let cp = GoTemplateValues::for_machine(&GoMachineInputs {
        control_plane: true,
        kubernetes_version: None,
        control_plane_endpoint: Some("1.2.3.4"),
        cpem_config: Some(""),
        emlb_id: None,
        api_key_opt_in: Some(&opt_in),
    });
    assert_eq!(cp.kubernetes_version.as_deref(), Some(""));
    assert_eq!(cp.control_plane_endpoint.as_deref(), Some("1.2.3.4"));
    assert_eq!(cp.cpem_config, None);
    assert!(matches!(cp.api_key, GoApiKey::Token(_)));
    assert_eq!(
        render_go_template("{{ .apiKey }}@{{ .cpemConfig }}", &cp).unwrap(),
        "t@<no value>"
    );

    let worker = GoTemplateValues::for_machine(&GoMachineInputs {
        control_plane: false,
        kubernetes_version: Some("v1.33.1"),
        control_plane_endpoint: Some("1.2.3.4"),
        api_key_opt_in: Some(&opt_in),
        ..GoMachineInputs::default()
    });
    assert_eq!(worker.control_plane_endpoint, None);
    assert!(matches!(worker.api_key, GoApiKey::Unset));

    let refused = GoTemplateValues::for_machine(&GoMachineInputs {
        control_plane: true,
        ..GoMachineInputs::default()
    });
    assert!(matches!(refused.api_key, GoApiKey::Refused));
}
