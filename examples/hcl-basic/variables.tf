variable "region" {
  type        = string
  description = "AWS region of the mirror"
  default     = "ap-northeast-1"
}

variable "vpc_id" {
  type        = string
  description = "VPC of the sync builds (private subnets with a NAT route)"
}

variable "subnet_ids" {
  type        = list(string)
  description = "Two or more private subnets in different availability zones"
}

variable "repositories" {
  type = list(object({
    project_key           = string
    repository            = string
    codecommit_repository = optional(string)
  }))
  description = "Backlog repositories to mirror"
  default = [
    { project_key = "DEMO", repository = "web-app", codecommit_repository = "demo-web-app" },
    { project_key = "DEMO", repository = "api" },
  ]
}
