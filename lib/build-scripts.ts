/**
 * The build scripts as the builds get them: the shell files of `lib/buildspec/` uploaded by the stack
 * to its bucket, in a folder named for their content (`tools/SHA256/`), which every sync project and
 * the verify project take as their source (CodeBuild source type S3 with a folder location: "The
 * path to the folder that contains the source code (for example,
 * bucket-name/path/to/source-code/folder/)", CodeBuild API Reference, ProjectSource `location`).
 * CodeBuild downloads the folder into `$CODEBUILD_SRC_DIR` (phase DOWNLOAD_SOURCE) and the inline
 * buildspec only runs the script found there.
 *
 * Why not inline: CodeBuild refuses an inline buildspec longer than 25,600 characters (`INLINE_BUILDSPEC_MAX_CHARS`,
 * lib/buildspec.ts); with the scripts inline the sync's buildspec reached 23,343 of
 * them with the comments stripped, leaving no room for another feature. Out of line the scripts are
 * shipped as written (comments included), the buildspec is a few hundred characters, and a change to
 * a script is a readable diff of a file in a plan and in the HCL module (`scripts/`).
 *
 * Content-addressed: a change to any script makes a new folder, so the projects' source location
 * changes with it (a plan shows which projects take the new scripts) and a build never mixes files of
 * two versions. The objects are replaced create-before-destroy, so the old folder exists until the
 * projects point at the new one; a build already running has downloaded its copy.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { S3Object } from "@cdktf/provider-aws/lib/s3-object";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { escapeTerraformTemplate } from "./terraform-template";

/** Key prefix of the stack's build tools in its bucket (never expired: lib/storage.ts). */
export const BUILD_TOOLS_PREFIX = "tools/";

/** Where the shipped shell files are (in the repository and in the npm package). */
export const BUILD_SCRIPTS_DIR = path.join(__dirname, "buildspec");

/**
 * The files every build's source folder holds, by construct id: the SSH functions (sourced by both
 * scripts from their own folder), the sync, its Git LFS step (sourced by the sync from its folder),
 * the ref selection (sourced by both scripts from their folder), the safety net's verifier, and the
 * git-lfs transfer agent consumers download (docs/lfs.md). In the order of their ids (the order of
 * the objects' addresses).
 */
export const BUILD_SCRIPT_FILES = {
  BacklogSsh: "backlog-ssh.sh",
  LfsAgent: "lfs-s3-agent.sh",
  LfsMirror: "lfs-mirror.sh",
  MirrorSync: "mirror-sync.sh",
  RefSelection: "ref-selection.sh",
  VerifyMirrors: "verify-mirrors.sh",
} as const;

/** A file of {@link BUILD_SCRIPT_FILES}. */
export type BuildScriptFile = (typeof BUILD_SCRIPT_FILES)[keyof typeof BUILD_SCRIPT_FILES];

/** The path of a shipped script. */
export function buildScriptPath(file: BuildScriptFile): string {
  return path.join(BUILD_SCRIPTS_DIR, file);
}

let scripts: ReadonlyArray<{ readonly id: string; readonly file: BuildScriptFile; readonly text: string }> | undefined;

/** The shipped scripts with their text, read once per process. */
export function buildScripts(): ReadonlyArray<{ readonly id: string; readonly file: BuildScriptFile; readonly text: string }> {
  scripts ??= Object.entries(BUILD_SCRIPT_FILES).map(([id, file]) => ({ id, file, text: readFileSync(buildScriptPath(file), "utf8") }));
  return scripts;
}

/** SHA-256 (hex) of the scripts' names and texts: the name of their folder. */
export function buildScriptsDigest(): string {
  const hash = createHash("sha256");
  for (const { file, text } of buildScripts()) hash.update(`${file}\0${Buffer.byteLength(text)}\0${text}`);
  return hash.digest("hex");
}

/** `tools/SHA256/`: the folder of the current scripts in the stack's bucket. */
export function buildScriptsFolder(): string {
  return `${BUILD_TOOLS_PREFIX}${buildScriptsDigest()}/`;
}

/** Props of {@link BuildScripts}. */
export interface BuildScriptsProps {
  /** Name of the stack's bucket. */
  readonly bucketName: string;
  /** Resources the objects must be written after (the bucket's encryption configuration). */
  readonly dependsOn?: ITerraformDependable[];
  /**
   * The content of a script's object, from its file name.
   * @default - the script's text (escaped for Terraform)
   */
  readonly content?: (file: BuildScriptFile) => string;
}

/** The scripts' objects in the stack's bucket, and the source location of the projects that run them. */
export class BuildScripts extends Construct {
  /** One object per file of {@link BUILD_SCRIPT_FILES}. */
  public readonly objects: S3Object[];
  /** Key prefix of the folder (`tools/SHA256/`). */
  public readonly folder: string;
  /** `BUCKET/tools/SHA256/`: the projects' S3 source location (a folder: it ends with `/`). */
  public readonly sourceLocation: string;

  constructor(scope: Construct, id: string, props: BuildScriptsProps) {
    super(scope, id);
    this.folder = buildScriptsFolder();
    this.objects = buildScripts().map(
      ({ id: objectId, file, text }) =>
        new S3Object(this, objectId, {
          bucket: props.bucketName,
          key: `${this.folder}${file}`,
          // Terraform reads every string as a template: the shell's `${` must reach S3 as written.
          content: props.content?.(file) ?? escapeTerraformTemplate(text),
          contentType: "text/x-shellscript",
          dependsOn: props.dependsOn,
          // The old folder stays until every project points at the new one (see the file header).
          lifecycle: { createBeforeDestroy: true },
        }),
    );
    this.sourceLocation = `${props.bucketName}/${this.folder}`;
  }
}
