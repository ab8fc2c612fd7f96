// Placeholder: the real handler is being written (walking skeleton).
export const handler = async (): Promise<unknown> => ({ statusCode: 501 });
