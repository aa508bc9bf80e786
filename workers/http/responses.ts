/** JSON response helpers; errors go through `errorResponse` instead. */
export const json = (data: unknown, init: ResponseInit = {}) => Response.json(data, init);

export const created = (data: unknown, headers?: HeadersInit) => Response.json(data, { status: 201, headers });

export const noContent = (headers?: HeadersInit) => new Response(null, { status: 204, headers });
