output "webhook_urls" {
  description = "Paste each into Backlog: Project settings → Git → repository → Webhook URL"
  value       = { for key, r in module.backlog_mirror.repositories : key => r.webhook_url }
}

output "repositories" {
  description = "Per repository: CodeCommit clone URLs, sync project and log group"
  value       = module.backlog_mirror.repositories
}

output "alerts_topic_arn" {
  description = "SNS topic of failed syncs and webhook 5xx alarms"
  value       = module.backlog_mirror.alerts_topic_arn
}
