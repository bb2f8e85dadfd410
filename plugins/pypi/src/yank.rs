//! Yanking (PEP 592). Neither twine nor Gitea has a way to yank, and PyPI does it in
//! its web UI, so Wharf offers a small API of its own below the mount:
//!
//! - `POST /yank/{name}/{version}` yanks a version; the body, if any, is the reason
//!   (plain UTF-8 text, at most [`MAX_REASON`] bytes), shown to pip users;
//! - `DELETE /yank/{name}/{version}` takes the yank back.
//!
//! A yank changes only the version's properties, never its files: the index marks its
//! files `data-yanked`, so pip skips them unless a requirement pins the version with
//! `==` (or `===`), as PEP 592 asks. Both are uploads to the host (with a tiny body)
//! because a publish plan is the contract's one way to change properties.

use wharf_plugin_sdk::{
    PackageRef, PlanVersion, PluginError, PublishPlan, Response, Upload, UploadSpec, VersionMode,
    params,
};

use crate::metadata::{YANKED, YANKED_REASON};
use crate::routes::{ACTION, VERSION};

/// Longest reason accepted.
pub const MAX_REASON: u64 = 1024;

/// Upload actions of the two yank requests; the `version` param names the version.
pub const YANK: &str = "yank";
pub const UNYANK: &str = "unyank";

/// The plan for a yank upload, or `None` if `spec` is not one.
pub fn parse(spec: &UploadSpec, body: &Upload) -> Option<Result<PublishPlan, PluginError>> {
    let version = params::text(&spec.params, VERSION);
    let action = params::text(&spec.params, ACTION);
    if action == YANK {
        let reason = if body.size() > MAX_REASON {
            Err(PluginError::bad_request(format!(
                "the yank reason is longer than {MAX_REASON} bytes"
            )))
        } else {
            String::from_utf8(body.read(0, MAX_REASON as u32))
                .map_err(|_| PluginError::bad_request("the yank reason is not UTF-8 text"))
        };
        return Some(reason.map(|reason| plan(&spec.pkg, version, Some(reason.trim()))));
    }
    (action == UNYANK).then(|| Ok(plan(&spec.pkg, version, None)))
}

/// Sets the yank properties of an existing version (`none` mode: 404 if it is absent).
pub fn plan(pkg: &PackageRef, version: &str, reason: Option<&str>) -> PublishPlan {
    let properties = match reason {
        Some(reason) => vec![
            (YANKED.to_string(), "true".to_string()),
            (YANKED_REASON.to_string(), reason.to_string()),
        ],
        None => vec![
            (YANKED.to_string(), "false".to_string()),
            (YANKED_REASON.to_string(), String::new()),
        ],
    };
    let what = if reason.is_some() {
        "yanked"
    } else {
        "unyanked"
    };
    PublishPlan {
        pkg: pkg.clone(),
        versions: vec![PlanVersion {
            references: Vec::new(),
            version: version.to_string(),
            mode: VersionMode::None,
            metadata: String::new(),
            files: Vec::new(),
            tags: Vec::new(),
            properties,
        }],
        reply: Response::new(
            200,
            "text/plain; charset=utf-8",
            format!("{what} {} {version}\n", pkg.name),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::yanked;

    fn pkg() -> PackageRef {
        PackageRef {
            owner: "alice".into(),
            name: "wharf-base".into(),
        }
    }

    #[test]
    fn a_yank_sets_the_properties_and_an_unyank_clears_them() {
        let yank = plan(&pkg(), "1.1.0", Some("broken on Windows"));
        let [version] = &yank.versions[..] else {
            panic!("one version");
        };
        assert!(matches!(version.mode, VersionMode::None));
        assert!(version.files.is_empty());
        assert_eq!(
            yanked(&version.properties).as_deref(),
            Some("broken on Windows")
        );
        assert_eq!(yank.reply.status, 200);
        assert_eq!(yank.reply.body, b"yanked wharf-base 1.1.0\n");
        let unyank = plan(&pkg(), "1.1.0", None);
        assert_eq!(yanked(&unyank.versions[0].properties), None);
        assert_eq!(
            yanked(&plan(&pkg(), "1.1.0", Some("")).versions[0].properties).as_deref(),
            Some("")
        );
    }
}
