// Reads moto's internal state (GET /moto-api/data.json) to check what countersign asked STS
// for: the session policy, role and session name of every AssumeRole.
export interface AssumedRole {
  access_key_id: string;
  secret_access_key: string;
  session_token: string;
  session_name: string;
  role_arn: string;
  policy: string | null;
}

export async function assumedRoles(endpoint: string): Promise<AssumedRole[]> {
  const response = await fetch(`${endpoint}/moto-api/data.json`);
  const data = (await response.json()) as { sts?: { AssumedRole?: AssumedRole[] } };
  return data.sts?.AssumedRole ?? [];
}
