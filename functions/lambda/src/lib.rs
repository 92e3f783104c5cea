//! reposmith on AWS Lambda (work in progress).
