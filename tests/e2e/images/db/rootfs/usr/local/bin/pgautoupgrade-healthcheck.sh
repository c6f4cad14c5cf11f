#!/bin/bash
# Health check of the database image: ready when PostgreSQL accepts connections.
exec pg_isready -q -d "${POSTGRES_DB:-${POSTGRES_USER:-postgres}}" -U "${POSTGRES_USER:-postgres}"
