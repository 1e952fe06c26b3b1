"""The compute campaign: the ordered queue that every sitting advances (queue), a run on another
machine brought back (transfer), measured cost rates (rates), the compute ledger page (ledger), and
the one-off migration of committed results to today's shapes (migrate)."""
