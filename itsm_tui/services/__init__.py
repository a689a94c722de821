"""Use cases. Each public function is one transaction: validate, check permission, apply the
domain rules, write, audit and publish a feed event, or change nothing at all."""
