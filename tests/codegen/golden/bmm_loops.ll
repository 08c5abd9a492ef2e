; ModuleID = "bmm"
target triple = "unknown-unknown-unknown"
target datalayout = ""

define internal i32 @"bmm.body"(ptr noalias %"a", ptr noalias %"b", ptr noalias %"c", ptr noalias %"workspace", i64 %"threads") nounwind
{
entry:
  br label %"q.cond"
q.cond:
  %"q" = phi  i64 [0, %"entry"], [%"q.next", %"gemm.i.end"]
  %".8" = icmp slt i64 %"q", 2
  br i1 %".8", label %"q.body", label %"q.end"
q.body:
  %".10" = mul i64 %"q", 12
  %".11" = mul i64 %"q", 20
  %".12" = mul i64 %"q", 15
  br label %"gemm.i.cond"
q.end:
  ret i32 0
gemm.i.cond:
  %"gemm.i" = phi  i64 [0, %"q.body"], [%"gemm.i.next", %"gemm.k.end"]
  %".14" = icmp slt i64 %"gemm.i", 3
  br i1 %".14", label %"gemm.i.body", label %"gemm.i.end"
gemm.i.body:
  br label %"gemm.j.cond"
gemm.i.end:
  %"q.next" = add nuw nsw i64 %"q", 1
  br label %"q.cond"
gemm.j.cond:
  %"gemm.j" = phi  i64 [0, %"gemm.i.body"], [%"gemm.j.next", %"gemm.j.body"]
  %".17" = icmp slt i64 %"gemm.j", 5
  br i1 %".17", label %"gemm.j.body", label %"gemm.j.end"
gemm.j.body:
  %".19" = mul nuw nsw i64 %"gemm.i", 5
  %".20" = add nuw nsw i64 %".12", %".19"
  %".21" = add nuw nsw i64 %".20", %"gemm.j"
  %".22" = getelementptr inbounds float, ptr %"c", i64 %".21"
  store float              0x0, ptr %".22"
  %"gemm.j.next" = add nuw nsw i64 %"gemm.j", 1
  br label %"gemm.j.cond"
gemm.j.end:
  br label %"gemm.k.cond"
gemm.k.cond:
  %"gemm.k" = phi  i64 [0, %"gemm.j.end"], [%"gemm.k.next", %"gemm.j.end.1"]
  %".26" = icmp slt i64 %"gemm.k", 4
  br i1 %".26", label %"gemm.k.body", label %"gemm.k.end"
gemm.k.body:
  %".28" = mul nuw nsw i64 %"gemm.i", 4
  %".29" = add nuw nsw i64 %".10", %".28"
  %".30" = add nuw nsw i64 %".29", %"gemm.k"
  %".31" = getelementptr inbounds float, ptr %"a", i64 %".30"
  %".32" = load float, ptr %".31", align 4
  br label %"gemm.j.cond.1"
gemm.k.end:
  %"gemm.i.next" = add nuw nsw i64 %"gemm.i", 1
  br label %"gemm.i.cond"
gemm.j.cond.1:
  %"gemm.j.1" = phi  i64 [0, %"gemm.k.body"], [%"gemm.j.next.1", %"gemm.j.body.1"]
  %".34" = icmp slt i64 %"gemm.j.1", 5
  br i1 %".34", label %"gemm.j.body.1", label %"gemm.j.end.1"
gemm.j.body.1:
  %".36" = mul nuw nsw i64 %"gemm.k", 5
  %".37" = add nuw nsw i64 %".11", %".36"
  %".38" = add nuw nsw i64 %".37", %"gemm.j.1"
  %".39" = getelementptr inbounds float, ptr %"b", i64 %".38"
  %".40" = load float, ptr %".39", align 4
  %".41" = mul nuw nsw i64 %"gemm.i", 5
  %".42" = add nuw nsw i64 %".12", %".41"
  %".43" = add nuw nsw i64 %".42", %"gemm.j.1"
  %".44" = getelementptr inbounds float, ptr %"c", i64 %".43"
  %".45" = load float, ptr %".44", align 4
  %".46" = fmul float %".32", %".40"
  %".47" = fadd float %".45", %".46"
  store float %".47", ptr %".44"
  %"gemm.j.next.1" = add nuw nsw i64 %"gemm.j.1", 1
  br label %"gemm.j.cond.1"
gemm.j.end.1:
  %"gemm.k.next" = add nuw nsw i64 %"gemm.k", 1
  br label %"gemm.k.cond"
}

define i32 @"kernel.bmm"(ptr %"args") nounwind
{
entry:
  %".3" = getelementptr i64, ptr %"args", i64 4
  %"threads" = load i64, ptr %".3"
  %".4" = getelementptr ptr, ptr %"args", i64 0
  %"a" = load ptr, ptr %".4"
  %".5" = getelementptr ptr, ptr %"args", i64 1
  %"b" = load ptr, ptr %".5"
  %".6" = getelementptr ptr, ptr %"args", i64 2
  %"c" = load ptr, ptr %".6"
  %".7" = getelementptr ptr, ptr %"args", i64 3
  %"workspace" = load ptr, ptr %".7"
  %".8" = icmp slt i64 %"threads", 1
  %".9" = select  i1 %".8", i64 1, i64 %"threads"
  %".10" = icmp sgt i64 %".9", 64
  %"threads.clamped" = select  i1 %".10", i64 64, i64 %".9"
  %".11" = call i32 @"bmm.body"(ptr %"a", ptr %"b", ptr %"c", ptr %"workspace", i64 %"threads.clamped")
  ret i32 %".11"
}
