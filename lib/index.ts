// Re-exports every concern of the library (the npm package's narrower public API is ../index.ts).
export * from "./props";
export * from "./mirror";
export * from "./mirror-build";
export * from "./buildspec";
export * from "./webhook-api";
export * from "./webhook-protection";
export * from "./backlog-ips";
export * from "./storage";
export * from "./network";
export * from "./vpc";
export * from "./iam";
export * from "./encryption";
export * from "./alerts";
export * from "./resync-schedule";
export * from "./naming";
export * from "./validation";
export * from "./stack-config";
