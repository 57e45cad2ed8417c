"""GitHub: repository analysis (`GitHubAnalysisWorkflow`, ids `gh-analysis-…`) and pull-request enhancement
(`PullRequestEnhanceWorkflow`, ids `gh-pr-…`). See docs/github.md."""
