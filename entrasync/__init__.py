"""entrasync: keep NeuralTrust users in line with Microsoft Entra ID groups, the GitOps way."""

__version__ = "0.1.0"
